package servers

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Recorder is a reverse proxy in front of a Prefect server that records
// every request that goes through it, for tests that count what a command
// sends.
type Recorder struct {
	// URL is the API URL through the proxy (the value for PREFECT_API_URL).
	URL  string
	mu   sync.Mutex
	seen []string
}

// Record starts a recording proxy in front of the server; it is closed when
// tb ends.
func (p *Prefect) Record(tb testing.TB) *Recorder {
	tb.Helper()
	u, err := url.Parse(p.URL)
	if err != nil {
		tb.Fatal(err)
	}
	target := &url.URL{Scheme: u.Scheme, Host: u.Host}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	rec := &Recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, r.Method+" "+r.URL.Path)
		rec.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	rec.URL = srv.URL + u.Path
	return rec
}

// Requests returns "METHOD /path" of every request so far, in order.
func (r *Recorder) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// Writes returns the requests that are not reads, a read being a GET or a
// POST to a .../filter, .../paginate or .../count route (how the Prefect
// API lists and counts). Any other method counts, so that an unexpected
// one is reported rather than passed over.
func (r *Recorder) Writes() []string {
	var out []string
	for _, req := range r.Requests() {
		method, path, _ := strings.Cut(req, " ")
		if method == http.MethodGet || method == http.MethodPost && isListing(path) {
			continue
		}
		out = append(out, req)
	}
	return out
}

// isListing reports whether a POST route only reads: the Prefect API's
// filter, paginate and count routes.
func isListing(path string) bool {
	for _, suffix := range []string{"/filter", "/paginate", "/count"} {
		if strings.HasSuffix(path, suffix) {
			return true
		}
	}
	return false
}
