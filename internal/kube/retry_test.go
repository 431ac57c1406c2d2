package kube

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
)

const nsJSON = `{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"prefect","resourceVersion":"1"}}`

// flaky answers with the failures first, then with nsJSON; it counts the
// requests.
type flaky struct {
	mu       sync.Mutex
	failures []failure
	requests int
}

// failure is one wrong answer.
type failure = func(http.ResponseWriter, *http.Request)

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	n := f.requests
	f.requests++
	f.mu.Unlock()
	if n < len(f.failures) {
		f.failures[n](w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(nsJSON))
}

func status(code int, body string) failure {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

// reset closes the connection without an answer.
func reset(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// cutOff promises a body and sends half of it.
func cutOff(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "200")
	w.WriteHeader(200)
	_, _ = w.Write([]byte(nsJSON[:40]))
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func TestRetries(t *testing.T) {
	conflict := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(409)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Conflict","code":409,"message":"conflict"}`))
	}
	tests := map[string]struct {
		failures []failure
		ok       bool
		requests int
		// client-go retries a GET whose connection was reset by itself
		// (a second later): no wait of ours.
		clientGoGet bool
	}{
		"502 page, then fine":     {failures: []failure{status(502, nginx502)}, ok: true, requests: 2},
		"500, 503, 504, fine":     {failures: []failure{status(500, "x"), status(503, "busy"), status(504, "slow")}, ok: true, requests: 4},
		"429 without Retry-After": {failures: []failure{status(429, "slow down")}, ok: true, requests: 2},
		"connection reset":        {failures: []failure{reset, reset}, ok: true, requests: 3, clientGoGet: true},
		"answer cut off":          {failures: []failure{cutOff}, ok: true, requests: 2},
		"always 503":              {failures: []failure{status(503, "a"), status(503, "b"), status(503, "c"), status(503, "d"), status(503, "e"), status(503, "f")}, requests: maxAttempts},
		"409 is not retried":      {failures: []failure{conflict}, requests: 1},
		"403 is not retried":      {failures: []failure{status(403, "forbidden")}, requests: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := &flaky{failures: tc.failures}
			srv := httptest.NewServer(f)
			t.Cleanup(srv.Close)
			retryCalls(t, &rest.Config{Host: srv.URL}, f, func(call string, err error, requests int, waits []time.Duration) {
				if (err == nil) != tc.ok {
					t.Errorf("%s: err = %v, want ok %v", call, err, tc.ok)
				}
				wantWaits := tc.requests - 1
				if call == "get" && tc.clientGoGet {
					wantWaits = 0
				}
				if requests != tc.requests || len(waits) != wantWaits {
					t.Errorf("%s: %d requests, %d waits; want %d requests", call, requests, len(waits), tc.requests)
				}
				for i, w := range waits {
					if w != backoff(i+1) {
						t.Errorf("%s: wait %d = %s, want %s", call, i, w, backoff(i+1))
					}
				}
				if err != nil && strings.Contains(err.Error(), "attempt") {
					t.Errorf("%s: %v", call, err)
				}
			})
		})
	}
}

// retryCalls sends a read and a server-side apply through a client of
// cfg, each from a fresh count of f's requests, and hands check each
// call's error, the requests f saw and the waits between attempts.
func retryCalls(t *testing.T, cfg *rest.Config, f *flaky, check func(call string, err error, requests int, waits []time.Duration)) {
	t.Helper()
	var waits []time.Duration
	c, err := NewForConfig(cfg, "test", Options{Sleep: func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range []string{"get", "apply"} {
		f.mu.Lock()
		f.requests = 0
		f.mu.Unlock()
		waits = nil
		var err error
		if call == "get" {
			_, _, err = c.Get(context.Background(), namespaceKey)
		} else {
			_, err = c.patch(context.Background(), nsObject(), nil, true, true)
		}
		f.mu.Lock()
		n := f.requests
		f.mu.Unlock()
		check(call, err, n, waits)
	}
}

func nsObject() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "prefect"}}}
}

// resetStream resets the request's HTTP/2 stream without an answer, as an
// HTTP/2 server does when a handler fails midway or a proxy loses its
// upstream.
func resetStream(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }

// cutStream sends the headers and half the body, then resets the stream.
func cutStream(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(nsJSON)))
	_, _ = w.Write([]byte(nsJSON[:len(nsJSON)/2]))
	_ = http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}

// connKey holds, in a request's context, the connection it came on.
type connKey struct{}

// dropConnection closes the request's connection with a TCP RST: over
// HTTP/2, every request on it is lost at once.
func dropConnection(_ http.ResponseWriter, r *http.Request) {
	c := r.Context().Value(connKey{}).(net.Conn)
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = c.Close()
}

// Over HTTP/2, which client-go speaks to an API server, a dropped request
// is a reset stream rather than a closed connection; it is retried as one,
// on the connection the other requests keep using.
func TestRetriesOverHTTP2(t *testing.T) {
	tests := map[string]struct {
		failures []failure
		requests int
		// client-go retries a GET whose connection was lost by itself.
		clientGoGet bool
	}{
		"stream reset twice": {failures: []failure{resetStream, resetStream}, requests: 3},
		"answer cut":         {failures: []failure{cutStream}, requests: 2},
		"cut, then reset":    {failures: []failure{cutStream, resetStream}, requests: 3},
		"connection dropped": {failures: []failure{dropConnection, dropConnection}, requests: 3, clientGoGet: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := &flaky{failures: tc.failures}
			var protos sync.Map
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				protos.Store(r.Proto, true)
				f.ServeHTTP(w, r)
			}))
			srv.EnableHTTP2 = true
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
				return context.WithValue(ctx, connKey{}, c)
			}
			srv.StartTLS()
			t.Cleanup(srv.Close)
			ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
			cfg := &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
			retryCalls(t, cfg, f, func(call string, err error, requests int, waits []time.Duration) {
				if err != nil {
					t.Errorf("%s: %v", call, err)
				}
				wantWaits := tc.requests - 1
				if call == "get" && tc.clientGoGet {
					wantWaits = 0
				}
				if requests != tc.requests || len(waits) != wantWaits {
					t.Errorf("%s: %d requests, %d waits; want %d requests", call, requests, len(waits), tc.requests)
				}
			})
			if _, ok := protos.Load("HTTP/2.0"); !ok {
				var seen []any
				protos.Range(func(k, _ any) bool { seen = append(seen, k); return true })
				t.Errorf("the requests came over %v, not HTTP/2", seen)
			}
		})
	}
}

// A connection that client-go's HTTP/2 health check (a ping after 30 s of
// silence) finds dead ends its requests with "client connection lost":
// another attempt goes on a new connection. A stream this client cancelled
// is not retried.
func TestRetryableHTTP2Errors(t *testing.T) {
	lost := &url.Error{Op: "Patch", URL: "https://127.0.0.1:6443/api/v1/namespaces/prefect", Err: errors.New("http2: client connection lost")}
	if !retryable(lost) {
		t.Errorf("not retried: %v", lost)
	}
	cancelled := &url.Error{Op: "Get", URL: "https://127.0.0.1:6443/api/v1/namespaces", Err: http2.StreamError{StreamID: 3, Code: http2.ErrCodeCancel}}
	if retryable(cancelled) {
		t.Errorf("retried: %v", cancelled)
	}
	if reset := fmt.Errorf("reading: %w", http2.StreamError{StreamID: 5, Code: http2.ErrCodeInternal}); !retryable(reset) {
		t.Errorf("not retried: %v", reset)
	}
}

// The client counts the answers that say the API server is overloaded
// (429, 503), the signal sync's window adapts to; a plain 500, a 502 page
// or a 409 is no such signal.
func TestOverloadsCounted(t *testing.T) {
	f := &flaky{failures: []failure{status(429, "slow down"), status(500, "x"), status(503, "busy"), status(502, nginx502)}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := NewForConfig(&rest.Config{Host: srv.URL}, "test", Options{Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get(context.Background(), namespaceKey); err != nil {
		t.Fatal(err)
	}
	if n := c.Overloads(); n != 2 {
		t.Errorf("%d overloads counted, want 2 (the 429 and the 503)", n)
	}
}
