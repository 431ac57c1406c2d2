package prefect

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// Answers that are not what the Prefect API promises, as proxies, load
// balancers and broken servers send them: each must end in an error that
// names the request and what was wrong, without a panic, a secret, or
// memory that grows with the body.

// hostileCanary is the password of the auth string and the value of a
// custom header in these tests; no error may contain it in any form.
const hostileCanary = "hostile-canary-4b1d"

// hostileConn resolves a connection the way the CLI does, with a basic-auth
// credential and a secret custom header.
func hostileConn(t *testing.T, url string, extra map[string]string) Connection {
	t.Helper()
	env := map[string]string{
		"PREFECT_API_URL":               url,
		"PREFECT_API_AUTH_STRING":       "admin:" + hostileCanary,
		"PREFECT_CLIENT_CUSTOM_HEADERS": `{"X-Api-Token": "token-` + hostileCanary + `"}`,
	}
	for k, v := range extra {
		env[k] = v
	}
	conn, err := Resolve(ResolveInput{Getenv: envOf(env), HomeDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// secretForms are the ways a credential can show up in an echo.
func secretForms() []string {
	return []string{
		hostileCanary,
		base64.StdEncoding.EncodeToString([]byte("admin:" + hostileCanary)),
		"token-" + hostileCanary,
	}
}

func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, f := range secretForms() {
		if strings.Contains(s, f) {
			t.Errorf("%s shows a secret (%q): %s", what, f, s)
		}
	}
}

// hostileClient starts handler and returns a client without waits between
// retries.
func hostileClient(t *testing.T, handler http.HandlerFunc, opts Options, extra map[string]string) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	if opts.Sleep == nil {
		opts.Sleep = func(context.Context, time.Duration) error { return nil }
	}
	c, err := New(hostileConn(t, srv.URL+"/api", extra), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

const nginx502 = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n"

func TestHostileAnswers(t *testing.T) {
	pool := `{"id":"p1","name":"gpu","type":"kubernetes","description":null,"is_paused":false,"concurrency_limit":null,"base_job_template":{},"status":"READY","updated":"u"}`
	tests := map[string]struct {
		status      int
		contentType string
		body        string
		// call is "list" (POST work_pools/filter) or "get" (GET work_pools/gpu).
		call     string
		want     []string
		notWant  []string
		requests int // 0: one
	}{
		"502 nginx page": {status: 502, contentType: "text/html", body: nginx502, call: "list", requests: DefaultMaxRetries + 1,
			want: []string{"listing work pools: 502 Bad Gateway: non-JSON response: <html> <head><title>502 Bad Gateway</title>", "nginx/1.25.3"}},
		"200 HTML page": {status: 200, contentType: "text/html", body: "<!DOCTYPE html><html><head><title>Prefect</title></head><body><div id=app></div></body></html>", call: "list",
			want: []string{"listing work pools: 200 answer is not the expected JSON", "<!DOCTYPE html>", "PREFECT_API_URL", "/api"}},
		"truncated list": {status: 200, body: "[" + pool + `,{"id":"p2","name":"cp`, call: "list",
			want: []string{"listing work pools: 200 answer is not the expected JSON", "cut off"}, notWant: []string{"ends in /api"}},
		"truncated object": {status: 200, body: pool[:40], call: "get",
			want: []string{`reading work pool "gpu": 200 answer is not the expected JSON`, "cut off"}},
		"empty 200": {status: 200, body: "", call: "get",
			want: []string{`reading work pool "gpu": 200 answer is not the expected JSON`, "(empty body)"}},
		"object for a list": {status: 200, body: `{"work_pools":[` + pool + `]}`, call: "list",
			want: []string{"listing work pools: 200 answer is not the expected JSON", "a JSON object where a list was expected"}},
		"list for an object": {status: 200, body: "[" + pool + "]", call: "get",
			want: []string{`reading work pool "gpu": 200 answer is not the expected JSON`, "a JSON list where an object was expected"}},
		"number for a name": {status: 200, body: `[{"id":"p1","name":17,"type":"kubernetes"}]`, call: "list",
			want: []string{"listing work pools: 200 answer is not the expected JSON", "name", "number", "string"}},
		"string for a limit": {status: 200, body: `{"id":"p1","name":"gpu","type":"kubernetes","concurrency_limit":"ten"}`, call: "get",
			want: []string{`reading work pool "gpu"`, "concurrency_limit", "string"}},
		"template is a string": {status: 200, body: `{"id":"p1","name":"gpu","type":"kubernetes","base_job_template":"{}"}`, call: "get",
			want: []string{`reading work pool "gpu"`, "base_job_template"}},
		"422 with echoed request": {status: 422, body: `{"exception_message":"Invalid request received.","exception_detail":[{"loc":["body","limit"],"msg":"too big","input":"` + hostileCanary + `"}],"request_body":{"x":"` + hostileCanary + `"}}`, call: "list",
			want: []string{"listing work pools: 422 Unprocessable Entity: Invalid request received: body.limit: too big"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, _ := hostileClient(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}, Options{}, nil)
			var err error
			switch tc.call {
			case "list":
				_, err = c.ListPools(context.Background())
			case "get":
				_, err = c.GetPool(context.Background(), "gpu")
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("error = %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%s", w, err)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error has %q:\n%s", w, err)
				}
			}
			if len(err.Error()) > 700 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
			assertNoSecret(t, "error", err.Error())
			want := max(tc.requests, 1)
			if got := StatsTotal(c.Stats()); got != want {
				t.Errorf("%d requests, want %d", got, want)
			}
		})
	}
}

// Fields the client does not know, at every level, are ignored.
func TestHostileExtraFields(t *testing.T) {
	c, _ := hostileClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/work_pools/filter":
			_, _ = w.Write([]byte(`[{"id":"p1","name":"gpu","type":"kubernetes","is_paused":true,"concurrency_limit":2,
				"base_job_template":{"job_configuration":{},"variables":{"properties":{}},"x-new":[1,{"a":null}]},
				"status":"READY","updated":"u1","storage_configuration":{"bundle_upload_step":{"k":"v"}},
				"default_queue_id":"q1","brand_new_field":{"nested":[1,2,3]},"another":null}]`))
		case "/api/work_queues/filter":
			_, _ = w.Write([]byte(`[{"id":"q1","name":"default","work_pool_name":"gpu","priority":1,"is_paused":false,
				"concurrency_limit":null,"description":"d","filter":null,"last_polled":"2026-01-01T00:00:00Z",
				"status":"READY","work_pool_id":"p1","something_else":{"deep":{"deeper":true}}}]`))
		default:
			t.Errorf("unexpected %s", r.URL.Path)
		}
	}, Options{}, nil)
	s, err := c.ReadState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p := s.Pools["gpu"]
	if p == nil || !*p.Paused || *p.ConcurrencyLimit != 2 || p.Status != "READY" || p.BaseJobTemplate["x-new"] == nil {
		t.Errorf("pool = %+v", p)
	}
	if q := s.Queues[state.QueueKey("gpu", "default")]; q == nil || *q.Priority != 1 || *q.Description != "d" {
		t.Errorf("queue = %+v", q)
	}
}

// A body far larger than the limit is cut off after DefaultMaxBodyBytes:
// the client stops reading, and what it allocates does not grow with the
// body.
func TestHostileHugeBody(t *testing.T) {
	const streamed = 512 << 20 // what the server is willing to send
	for _, status := range []int{200, 502} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			var sent atomic.Int64
			chunk := []byte(strings.Repeat(`{"name":"x","type":"kubernetes"},`, 2000))
			c, _ := hostileClient(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(status)
				_, _ = w.Write([]byte("["))
				for sent.Load() < streamed {
					n, err := w.Write(chunk)
					sent.Add(int64(n))
					if err != nil {
						return
					}
				}
			}, Options{MaxRetries: -1}, nil)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := c.ListPools(context.Background())
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("no error")
			}
			want := "listing work pools: response body larger than 32 MiB"
			if status != 200 {
				want = "listing work pools: 502 Bad Gateway: non-JSON response: [{\"name\""
			}
			if !strings.Contains(err.Error(), want) || len(err.Error()) > 600 {
				t.Errorf("error lacks %q or is long (%d bytes):\n%.600s", want, len(err.Error()), err)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("server sent %d MiB before the client hung up; the client allocated %d MiB", sent.Load()>>20, alloc>>20)
			// io.ReadAll doubles its buffer up to the limit: about 2x the
			// limit in total, whatever the server sends. An error page is
			// read up to 1 MiB only.
			limit := uint64(4 * DefaultMaxBodyBytes)
			if status != 200 {
				limit = 8 << 20
			}
			if alloc > limit {
				t.Errorf("allocated %d MiB reading one answer, want at most %d MiB", alloc>>20, limit>>20)
			}
			if s := sent.Load(); s >= streamed {
				t.Errorf("the client read all %d MiB", s>>20)
			}
		})
	}
}

// A body that trickles forever ends at the request timeout, with the
// setting to raise named.
func TestHostileEndlessBody(t *testing.T) {
	stop := make(chan struct{})
	c, _ := hostileClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		_, _ = w.Write([]byte("["))
		for {
			select {
			case <-stop:
				return
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}, Options{}, map[string]string{"PREFECT_API_REQUEST_TIMEOUT": "0.5"})
	defer close(stop)
	began := time.Now()
	_, err := c.ListPools(context.Background())
	took := time.Since(began)
	if err == nil {
		t.Fatal("no error")
	}
	t.Logf("after %v: %v", took.Round(time.Millisecond), err)
	for _, w := range []string{"listing work pools: the answer from the Prefect API at", "stopped before it was complete", "no complete answer within 500ms", "PREFECT_API_REQUEST_TIMEOUT"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%s", w, err)
		}
	}
	// One attempt per retry at most, each ended by the timeout.
	if limit := time.Duration(DefaultMaxRetries+1) * 700 * time.Millisecond; took > limit {
		t.Errorf("took %v, want under %v", took, limit)
	}
	assertNoSecret(t, "error", err.Error())
}

// A redirect to another host is not followed: neither the Authorization
// header nor a custom header may reach it.
func TestHostileRedirectToAnotherHost(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		_, _ = w.Write([]byte("[]"))
	}))
	defer other.Close()
	// Same address, other host name: "localhost" instead of "127.0.0.1".
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(other.URL, "http://"))
	elsewhere := "http://localhost:" + port
	for _, code := range []int{301, 302, 307, 308} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			c, _ := hostileClient(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere+r.URL.Path+"?token=q-"+hostileCanary, code)
			}, Options{}, nil)
			_, err := c.ListPools(context.Background())
			mu.Lock()
			headers := seen
			mu.Unlock()
			for _, h := range headers {
				for name, vs := range h {
					assertNoSecret(t, "header "+name+" sent to the other host", strings.Join(vs, ","))
				}
			}
			if err == nil {
				t.Fatalf("the redirect to %s was followed (%d requests there)", elsewhere, len(headers))
			}
			t.Log(err)
			for _, w := range []string{"listing work pools", fmt.Sprint(code), "redirect", "localhost:" + port, "not followed"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%s", w, err)
				}
			}
			assertNoSecret(t, "error", err.Error())
		})
	}
}

// A redirect on the same host (a proxy adding a path prefix) is followed.
func TestHostileRedirectSameHost(t *testing.T) {
	c, _ := hostileClient(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/moved/") {
			if r.Header.Get("Authorization") == "" {
				t.Error("no credential after a same-host redirect")
			}
			_, _ = w.Write([]byte("[]"))
			return
		}
		http.Redirect(w, r, "/moved"+r.URL.Path, http.StatusPermanentRedirect)
	}, Options{}, nil)
	if _, err := c.ListPools(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A server (or proxy) that echoes the request's headers in its error page
// must not put the credential into the error.
func TestHostileEchoedCredential(t *testing.T) {
	echo := func(status int, asJSON bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			auth, token := r.Header.Get("Authorization"), r.Header.Get("X-Api-Token")
			user, pass, _ := r.BasicAuth()
			if asJSON {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				fmt.Fprintf(w, `{"detail":"rejected Authorization %s (user %s, password %s), X-Api-Token %s"}`, auth, user, pass, token)
				return
			}
			w.WriteHeader(status)
			fmt.Fprintf(w, "<html><body>Authorization: %s<br>password=%s<br>X-Api-Token: %s</body></html>", auth, pass, token)
		}
	}
	tests := map[string]struct {
		handler http.HandlerFunc
		want    string
	}{
		"401 JSON detail":       {echo(401, true), "401 Unauthorized: rejected Authorization [redacted] (user admin, password [redacted]), X-Api-Token [redacted]"},
		"400 HTML page":         {echo(400, false), "400 Bad Request: non-JSON response: <html><body>Authorization: [redacted]<br>password=[redacted]<br>X-Api-Token: [redacted]"},
		"200 HTML page":         {echo(200, false), "200 answer is not the expected JSON"},
		"500 JSON then retried": {echo(500, true), "500 Internal Server Error: rejected Authorization"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, _ := hostileClient(t, tc.handler, Options{}, nil)
			_, err := c.ListPools(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error lacks %q:\n%s", tc.want, err)
			}
			assertNoSecret(t, "error", err.Error())
			var ae *APIError
			if errors.As(err, &ae) {
				assertNoSecret(t, "APIError.Detail", ae.Detail)
			}
		})
	}
	// An API key (Bearer) echoed back.
	key := "pnu_" + hostileCanary
	c, _ := hostileClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		fmt.Fprintf(w, `{"detail":"key %s has no access (header %s)"}`, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), r.Header.Get("Authorization"))
	}, Options{}, map[string]string{"PREFECT_API_AUTH_STRING": "", "PREFECT_API_KEY": key})
	_, err := c.ListPools(context.Background())
	if err == nil || !strings.Contains(err.Error(), "403 Forbidden: key [redacted] has no access (header [redacted])") {
		t.Errorf("error = %v", err)
	}
	if err != nil && strings.Contains(err.Error(), key) {
		t.Errorf("error shows the API key: %s", err)
	}
}
