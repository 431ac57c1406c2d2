package faultproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// backend is an httptest server that answers every request with a JSON
// body and counts what reached it.
type backend struct {
	*httptest.Server
	hits atomic.Int64
}

const answer = `{"name":"pool-a","description":"a body long enough to be cut in half on the wire"}`

func newBackend(t *testing.T, tlsOn bool) *backend {
	b := &backend{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Seen-Path", r.URL.RequestURI())
		w.Header().Set("X-Seen-Body", string(body))
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_, _ = io.WriteString(w, answer)
	})
	if tlsOn {
		b.Server = httptest.NewTLSServer(h)
	} else {
		b.Server = httptest.NewServer(h)
	}
	t.Cleanup(b.Close)
	return b
}

func start(t *testing.T, opts Options) *Proxy {
	t.Helper()
	p, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// client has no keep-alive, so that every request gets its own connection,
// and a timeout well under a hang.
func client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

func TestNoFaultForwardsPathQueryBodyAndHeaders(t *testing.T) {
	b := newBackend(t, false)
	p := start(t, Options{Upstream: b.URL + "/ignored", Rate: 0})
	req, _ := http.NewRequest(http.MethodPost, p.URL()+"/api/work_pools/a%2Fb/queues?limit=5", strings.NewReader(`{"x":1}`))
	resp, err := client(5 * time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != answer {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Seen-Path"); got != "/api/work_pools/a%2Fb/queues?limit=5" {
		t.Errorf("backend saw path %q", got)
	}
	if got := resp.Header.Get("X-Seen-Body"); got != `{"x":1}` {
		t.Errorf("backend saw body %q", got)
	}
	if p.Injected() != 0 || p.Requests() != 1 || b.hits.Load() != 1 {
		t.Errorf("injected %d, requests %d, backend hits %d", p.Injected(), p.Requests(), b.hits.Load())
	}
}

func TestStatusFaults(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		code int
	}{{Status500, 500}, {Status502, 502}, {Status503, 503}, {TooManyRequests, 429}} {
		t.Run(string(tc.kind), func(t *testing.T) {
			b := newBackend(t, false)
			p := start(t, Options{Upstream: b.URL, Rate: 1, Faults: []Kind{tc.kind}, RetryAfter: 7, Seed: 3})
			forwarded := 0
			for i := 0; i < 20; i++ {
				resp, body, err := get(t, client(5*time.Second), p.URL()+"/x")
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tc.code || !strings.Contains(body, "injected by faultproxy") {
					t.Fatalf("got %d %q, want %d from the proxy", resp.StatusCode, body, tc.code)
				}
				if ra := resp.Header.Get("Retry-After"); (tc.code == 429) != (ra == "7") {
					t.Errorf("Retry-After %q on a %d", ra, tc.code)
				}
				if p.Events()[i].After {
					forwarded++
				}
			}
			if got := p.Counts()[tc.kind]; got != 20 {
				t.Errorf("counted %d %s faults, want 20", got, tc.kind)
			}
			// 429 never reaches the server; 500, 502 and 503 sometimes do.
			if int(b.hits.Load()) != forwarded {
				t.Errorf("backend hits %d, events after forwarding %d", b.hits.Load(), forwarded)
			}
			switch tc.kind {
			case TooManyRequests:
				if forwarded != 0 {
					t.Errorf("%s reached the server %d times", tc.kind, forwarded)
				}
			default:
				if forwarded == 0 || forwarded == 20 {
					t.Errorf("%s: %d of 20 after forwarding; want both kinds", tc.kind, forwarded)
				}
			}
		})
	}
}

func TestReset(t *testing.T) {
	b := newBackend(t, false)
	p := start(t, Options{Upstream: b.URL, Rate: 1, Faults: []Kind{Reset}, Seed: 1})
	for i := 0; i < 10; i++ {
		_, _, err := get(t, client(5*time.Second), p.URL()+"/x")
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
			t.Fatalf("request %d: err = %v, want a connection reset", i, err)
		}
	}
	after := 0
	for _, e := range p.Events() {
		if e.After {
			after++
		}
	}
	if int(b.hits.Load()) != after || after == 0 || after == 10 {
		t.Errorf("backend hits %d, resets after the answer %d (of 10)", b.hits.Load(), after)
	}
	if p.Counts()[Reset] != 10 {
		t.Errorf("counts %v", p.Counts())
	}
	if got := len(p.Forwarded()); got != after {
		t.Errorf("%d requests recorded as forwarded, %d reached the backend", got, after)
	}
}

func TestCutOff(t *testing.T) {
	b := newBackend(t, false)
	p := start(t, Options{Upstream: b.URL, Rate: 1, Faults: []Kind{CutOff}})
	resp, err := client(5 * time.Second).Get(p.URL() + "/x")
	if err == nil {
		// The headers arrived whole: the body is short.
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(rerr, io.ErrUnexpectedEOF) {
			t.Fatalf("read %q, err %v; want a body cut short", body, rerr)
		}
		if len(body) >= len(answer) {
			t.Errorf("body %q is whole", body)
		}
	} else if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want EOF", err)
	}
	// A 204 has no body: the cut falls in its headers.
	req, _ := http.NewRequest(http.MethodDelete, p.URL()+"/x", nil)
	if _, err := client(5 * time.Second).Do(req); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("DELETE through a cut: err = %v, want EOF", err)
	}
	if b.hits.Load() != 2 || p.Counts()[CutOff] != 2 {
		t.Errorf("backend hits %d, counts %v; a cut answer was forwarded first", b.hits.Load(), p.Counts())
	}
}

func TestLatency(t *testing.T) {
	b := newBackend(t, false)
	p := start(t, Options{Upstream: b.URL, Rate: 1, Faults: []Kind{Latency}, Latency: 200 * time.Millisecond})
	begin := time.Now()
	resp, body, err := get(t, client(5*time.Second), p.URL()+"/x")
	if err != nil || resp.StatusCode != 200 || body != answer {
		t.Fatalf("%v %v %q", resp, err, body)
	}
	if d := time.Since(begin); d < 100*time.Millisecond {
		t.Errorf("answer after %v, want at least 100ms", d)
	}
	if p.Counts()[Latency] != 1 {
		t.Errorf("counts %v", p.Counts())
	}
}

func TestHangOutlastsTheClientTimeout(t *testing.T) {
	b := newBackend(t, false)
	p := start(t, Options{Upstream: b.URL, Rate: 1, Faults: []Kind{Hang}, Seed: 5})
	for i := 0; i < 6; i++ {
		begin := time.Now()
		_, _, err := get(t, client(300*time.Millisecond), p.URL()+"/x")
		var ne interface{ Timeout() bool }
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("err = %v, want a client timeout", err)
		}
		if d := time.Since(begin); d > 5*time.Second {
			t.Errorf("hang took %v", d)
		}
	}
	if p.Counts()[Hang] != 6 {
		t.Errorf("counts %v", p.Counts())
	}
}

func TestHangMaxEndsAHang(t *testing.T) {
	b := newBackend(t, false)
	p := start(t, Options{Upstream: b.URL, Rate: 1, Faults: []Kind{Hang}, HangMax: 200 * time.Millisecond})
	_, _, err := get(t, client(10*time.Second), p.URL()+"/x")
	if err == nil {
		t.Fatal("a hang answered")
	}
}

func TestSeedRepeatsTheFaults(t *testing.T) {
	b := newBackend(t, false)
	run := func(seed uint64) string {
		p := start(t, Options{Upstream: b.URL, Rate: 0.5, Seed: seed, Faults: []Kind{Status500, Status503, TooManyRequests, Latency},
			Latency: 2 * time.Millisecond})
		var got []string
		for i := 0; i < 40; i++ {
			resp, _, err := get(t, client(5*time.Second), p.URL()+"/x")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, resp.Status)
		}
		if p.Injected() == 0 || p.Injected() == 40 {
			t.Errorf("rate 0.5 injected %d faults in 40 requests", p.Injected())
		}
		return strings.Join(got, ",") + " " + Summary(p.Counts())
	}
	a, b2, c := run(42), run(42), run(43)
	if a != b2 {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b2)
	}
	if a == c {
		t.Errorf("different seeds, same faults: %s", a)
	}
}

func TestSetRateTurnsFaultsOff(t *testing.T) {
	b := newBackend(t, false)
	p := start(t, Options{Upstream: b.URL, Rate: 1, Faults: []Kind{Status500}})
	resp, _, _ := get(t, client(5*time.Second), p.URL()+"/x")
	if resp.StatusCode != 500 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	p.SetRate(0)
	for i := 0; i < 5; i++ {
		resp, _, err := get(t, client(5*time.Second), p.URL()+"/x")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("after SetRate(0): %v %v", resp, err)
		}
	}
	if p.Injected() != 1 {
		t.Errorf("injected %d", p.Injected())
	}
}

func TestEligibleLimitsFaults(t *testing.T) {
	b := newBackend(t, false)
	p := start(t, Options{Upstream: b.URL, Rate: 1, Faults: []Kind{Status500},
		Eligible: func(r *http.Request) bool { return r.Method != http.MethodGet }})
	resp, _, _ := get(t, client(5*time.Second), p.URL()+"/x")
	if resp.StatusCode != 200 {
		t.Errorf("GET got %d", resp.StatusCode)
	}
	resp2, err := client(5*time.Second).Post(p.URL()+"/x", "application/json", strings.NewReader("{}"))
	if err != nil || resp2.StatusCode != 500 {
		t.Errorf("POST: %v %v", resp2, err)
	}
}

// TestTLSInFrontOfTLS terminates TLS with the proxy's own CA and forwards
// over the backend's TLS, as in front of a kube-apiserver.
func TestTLSInFrontOfTLS(t *testing.T) {
	b := newBackend(t, true)
	p := start(t, Options{Upstream: b.URL, TLS: true, Transport: b.Client().Transport, Rate: 1, Faults: []Kind{Status502}, Seed: 9})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(p.CAPEM()) {
		t.Fatal("CAPEM holds no certificate")
	}
	if !strings.HasPrefix(p.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL %s", p.URL())
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	statuses := map[int]int{}
	for i := 0; i < 10; i++ {
		resp, _, err := get(t, c, p.URL()+"/x")
		if err != nil {
			t.Fatal(err)
		}
		if resp.ProtoMajor != 1 {
			t.Errorf("proto %s, want HTTP/1.1", resp.Proto)
		}
		statuses[resp.StatusCode]++
	}
	if statuses[502] != 10 {
		t.Errorf("statuses %v", statuses)
	}
	p.SetRate(0)
	resp, body, err := get(t, c, p.URL()+"/x")
	if err != nil || resp.StatusCode != 200 || body != answer {
		t.Fatalf("no fault: %v %v %q", resp, err, body)
	}
	// A reset through TLS is still a reset.
	p2 := start(t, Options{Upstream: b.URL, TLS: true, Transport: b.Client().Transport, Rate: 1, Faults: []Kind{Reset}})
	pool2 := x509.NewCertPool()
	pool2.AppendCertsFromPEM(p2.CAPEM())
	c2 := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool2}, DisableKeepAlives: true}}
	if _, _, err := get(t, c2, p2.URL()+"/x"); err == nil {
		t.Error("reset through TLS answered")
	}
	// A client that does not trust the proxy's CA is refused.
	if _, err := http.Get(p.URL() + "/x"); err == nil {
		t.Error("the proxy's certificate was trusted without its CA")
	}
}

// h2Client speaks HTTP/2 to p, over connections it keeps: a reset stream
// must not take the connection's other requests with it.
func h2Client(t *testing.T, p *Proxy) *http.Client {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(p.CAPEM()) {
		t.Fatal("CAPEM holds no certificate")
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
}

// With HTTP2, the proxy speaks HTTP/2 and its faults are HTTP/2's: a reset
// or a cut answer resets the request's stream, and the next request on the
// same connection goes through.
func TestHTTP2(t *testing.T) {
	b := newBackend(t, true)
	p := start(t, Options{Upstream: b.URL, TLS: true, HTTP2: true, Transport: b.Client().Transport, Rate: 1, Faults: []Kind{Reset}, Seed: 3})
	c := h2Client(t, p)
	for i := 0; i < 6; i++ {
		_, _, err := get(t, c, p.URL()+"/x")
		if err == nil || !strings.Contains(err.Error(), "stream error") || !strings.Contains(err.Error(), "INTERNAL_ERROR") {
			t.Fatalf("reset %d: err = %v, want a reset stream", i, err)
		}
	}
	p.SetRate(0)
	resp, body, err := get(t, c, p.URL()+"/x")
	if err != nil || resp.StatusCode != 200 || body != answer || resp.ProtoMajor != 2 {
		t.Fatalf("no fault: %v %v %q", resp, err, body)
	}
	for _, e := range p.Events() {
		if e.Proto != "HTTP/2.0" {
			t.Errorf("%s recorded as %q", e, e.Proto)
		}
	}

	p2 := start(t, Options{Upstream: b.URL, TLS: true, HTTP2: true, Transport: b.Client().Transport, Rate: 1, Faults: []Kind{CutOff}})
	c2 := h2Client(t, p2)
	resp, err = c2.Get(p2.URL() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || err == nil || !strings.Contains(err.Error(), "stream error") || len(got) >= len(answer) {
		t.Fatalf("cut answer over %s: read %q, err %v; want half the body, then a reset stream", resp.Proto, got, err)
	}
	p2.SetRate(0)
	if resp, body, err := get(t, c2, p2.URL()+"/x"); err != nil || body != answer {
		t.Fatalf("after the cut: %v %v %q", resp, err, body)
	}

	p3 := start(t, Options{Upstream: b.URL, TLS: true, HTTP2: true, Transport: b.Client().Transport, Rate: 1, Faults: []Kind{Status503}})
	if resp, _, err := get(t, h2Client(t, p3), p3.URL()+"/x"); err != nil || resp.StatusCode != 503 || resp.ProtoMajor != 2 {
		t.Fatalf("503 over HTTP/2: %v %v", resp, err)
	}
}

// A drop over HTTP/2 closes the whole connection: a request in flight on
// it fails along with the one that drew the fault, and the client's next
// request goes through on a new connection. Over HTTP/1.1 it is a reset.
func TestDrop(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	var slowOnce sync.Once
	b := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			slowOnce.Do(func() { close(arrived) })
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(b.Close)
	defer close(release)
	p := start(t, Options{Upstream: b.URL, TLS: true, HTTP2: true, Transport: b.Client().Transport, Rate: 1,
		Faults: []Kind{Drop}, Eligible: func(r *http.Request) bool { return r.URL.Path == "/drop" }})
	c := h2Client(t, p)
	slow := make(chan error, 1)
	go func() {
		_, _, err := get(t, c, p.URL()+"/slow")
		slow <- err
	}()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow request did not reach the backend")
	}
	if _, _, err := get(t, c, p.URL()+"/drop"); err == nil {
		t.Fatal("a dropped request answered")
	}
	select {
	case err := <-slow:
		if err == nil {
			t.Error("the request in flight on the dropped connection answered")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the request in flight on the dropped connection still hangs")
	}
	p.SetRate(0)
	if resp, body, err := get(t, c, p.URL()+"/drop"); err != nil || body != answer || resp.ProtoMajor != 2 {
		t.Fatalf("after the drop: %v %v %q", resp, err, body)
	}
	if p.Counts()[Drop] != 1 {
		t.Errorf("counts %v", p.Counts())
	}

	b1 := newBackend(t, false)
	p1 := start(t, Options{Upstream: b1.URL, Rate: 1, Faults: []Kind{Drop}, Seed: 1})
	for i := 0; i < 4; i++ {
		if _, _, err := get(t, client(5*time.Second), p1.URL()+"/x"); !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
			t.Fatalf("drop %d over HTTP/1.1: err = %v, want a connection reset", i, err)
		}
	}
}

func TestCloseEndsHangs(t *testing.T) {
	b := newBackend(t, false)
	p := start(t, Options{Upstream: b.URL, Rate: 1, Faults: []Kind{Hang}})
	done := make(chan error, 1)
	go func() {
		_, _, err := get(t, client(30*time.Second), p.URL()+"/x")
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go p.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a hang answered on close")
		}
	case <-ctx.Done():
		t.Fatal("Close left a hang running")
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Upstream: "not a url"},
		{Upstream: "http://127.0.0.1:1", Rate: 2},
		{Upstream: "http://127.0.0.1:1", Faults: []Kind{"teapot"}},
		{Upstream: "http://127.0.0.1:1", HTTP2: true},
	} {
		if p, err := Start(o); err == nil {
			p.Close()
			t.Errorf("Start(%+v) accepted", o)
		}
	}
}

func TestUnreachableUpstreamIsNotAFault(t *testing.T) {
	b := newBackend(t, false)
	url := b.URL
	b.Close()
	p := start(t, Options{Upstream: url, Rate: 0})
	resp, body, err := get(t, client(5*time.Second), p.URL()+"/x")
	if err != nil || resp.StatusCode != 502 || !strings.Contains(body, "could not reach") {
		t.Fatalf("%v %v %q", resp, err, body)
	}
	if p.Injected() != 0 || len(p.ForwardErrors()) != 1 {
		t.Errorf("injected %d, forward errors %q", p.Injected(), p.ForwardErrors())
	}
}
