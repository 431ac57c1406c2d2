package prefect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

func pagedPools(t *testing.T, total int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/api/work_pools/filter" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
		b := readBody(t, r)
		limit, offset := int(b["limit"].(float64)), int(b["offset"].(float64))
		if limit > 200 {
			writeJSON(w, 422, map[string]any{"detail": "limit too large"})
			return
		}
		var page []map[string]any
		for i := offset; i < min(offset+limit, total); i++ {
			page = append(page, map[string]any{"id": fmt.Sprint(i), "name": fmt.Sprintf("pool-%04d", i),
				"type": "kubernetes", "is_paused": i%2 == 0, "description": nil, "concurrency_limit": nil,
				"base_job_template": map[string]any{}, "status": "NOT_READY", "updated": "2024-01-01T00:00:00Z"})
		}
		writeJSON(w, 200, page)
	}
}

func TestListPoolsPaging(t *testing.T) {
	tests := map[string]struct{ pools, requests int }{
		"empty": {0, 1}, "one page": {199, 1}, "exactly one page": {200, 2}, "450 pools": {450, 3},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newTestClient(t, pagedPools(t, tc.pools), Connection{})
			pools, err := c.ListPools(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(pools) != tc.pools {
				t.Errorf("got %d pools, want %d", len(pools), tc.pools)
			}
			if got := c.Stats()["POST work_pools/filter"]; got != tc.requests {
				t.Errorf("%d requests, want %d (stats %v)", got, tc.requests, c.Stats())
			}
		})
	}
}

func TestReadState(t *testing.T) {
	queues := []map[string]any{
		{"id": "q1", "name": "default", "work_pool_name": "gpu tasks #1", "priority": 1, "is_paused": false,
			"concurrency_limit": nil, "description": "", "updated": "u1"},
		{"id": "q2", "name": "high", "work_pool_name": "gpu tasks #1", "priority": 2, "is_paused": true,
			"concurrency_limit": 5, "description": nil},
		{"id": "q3", "name": "legacy", "work_pool_name": nil, "priority": 1},
	}
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/work_pools/filter":
			writeJSON(w, 200, []map[string]any{{"id": "p1", "name": "gpu tasks #1", "type": "kubernetes",
				"description": "GPU", "is_paused": false, "concurrency_limit": 3,
				"base_job_template": map[string]any{"job_configuration": map[string]any{"x": 1}}, "status": "READY"}})
		case "/api/work_queues/filter":
			writeJSON(w, 200, queues)
		default:
			t.Errorf("unexpected %s", r.URL.Path)
		}
	}, Connection{})
	s, err := c.ReadState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p := s.Pools["gpu tasks #1"]
	if p == nil || *p.Description != "GPU" || *p.Paused || *p.ConcurrencyLimit != 3 || p.Status != "READY" || p.ID != "p1" {
		t.Fatalf("pool = %+v", p)
	}
	if x := p.BaseJobTemplate["job_configuration"].(map[string]any)["x"]; x != float64(1) {
		t.Errorf("template numbers should decode as float64, got %T", x)
	}
	if len(s.Queues) != 2 {
		t.Fatalf("queues = %v (the legacy queue must be skipped)", s.Queues)
	}
	def := s.Queues[state.QueueKey("gpu tasks #1", "default")]
	if def == nil || def.Description == nil || *def.Description != "" || def.ConcurrencyLimit != nil || *def.Priority != 1 || def.Updated != "u1" {
		t.Errorf("default queue = %+v", def)
	}
	high := s.Queues[state.QueueKey("gpu tasks #1", "high")]
	if high == nil || high.Description != nil || !*high.Paused || *high.ConcurrencyLimit != 5 {
		t.Errorf("high queue = %+v", high)
	}
}

// On a full page boundary where the server breaks name ties differently per
// query, one queue shows twice; the client must then read pool by pool.
func TestListQueuesUnstablePaging(t *testing.T) {
	q := func(id, pool string) map[string]any {
		return map[string]any{"id": id, "name": "default", "work_pool_name": pool, "priority": 1}
	}
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		b := readBody(t, r)
		switch r.URL.Path {
		case "/api/work_queues/filter":
			page := make([]map[string]any, 0, 200)
			for i := range 200 {
				page = append(page, q(fmt.Sprint(i), fmt.Sprint("p", i)))
			}
			if b["offset"].(float64) > 0 { // repeats q0, hides p200's queue
				page = []map[string]any{q("0", "p0")}
			}
			writeJSON(w, 200, page)
		default:
			pool := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/work_pools/"), "/queues/filter")
			writeJSON(w, 200, []map[string]any{q("id-"+pool, "")})
		}
	}, Connection{})
	pools := make([]*state.Pool, 201)
	for i := range pools {
		pools[i] = &state.Pool{Name: fmt.Sprint("p", i)}
	}
	qs, err := c.listQueues(context.Background(), pools)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 201 {
		t.Errorf("got %d queues, want 201", len(qs))
	}
	if got := c.Stats()["POST work_pools/{name}/queues/filter"]; got != 201 {
		t.Errorf("per-pool reads = %d, want 201", got)
	}
}

func TestRetries(t *testing.T) {
	tests := map[string]struct {
		responses []func(w http.ResponseWriter)
		call      func(c *Client) error
		wantErr   string
		wantReqs  int
		checkWait func(t *testing.T, waits []time.Duration)
	}{
		"503 then success": {
			responses: []func(http.ResponseWriter){status(503), okJSON(`{"name":"a","type":"process"}`)},
			call:      func(c *Client) error { _, err := c.GetPool(context.Background(), "a"); return err },
			wantReqs:  2,
			checkWait: func(t *testing.T, w []time.Duration) {
				if len(w) != 1 || w[0] < backoffBase/2 || w[0] > backoffBase {
					t.Errorf("waits = %v", w)
				}
			},
		},
		"429 with Retry-After seconds": {
			responses: []func(http.ResponseWriter){retryAfterHeader("7"), okJSON(`[]`)},
			call:      func(c *Client) error { _, err := c.ListPools(context.Background()); return err },
			wantReqs:  2,
			checkWait: func(t *testing.T, w []time.Duration) {
				if len(w) != 1 || w[0] < 7*time.Second || w[0] > 8400*time.Millisecond {
					t.Errorf("waits = %v, want 7s plus up to 20%%", w)
				}
			},
		},
		"429 with Retry-After date, capped": {
			responses: []func(http.ResponseWriter){retryAfterHeader(time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)), status(204)},
			call:      func(c *Client) error { return c.DeletePool(context.Background(), "a") },
			wantReqs:  2,
			checkWait: func(t *testing.T, w []time.Duration) {
				if len(w) != 1 || w[0] < retryAfterMax || w[0] > retryAfterMax*6/5 {
					t.Errorf("waits = %v, want the %v cap", w, retryAfterMax)
				}
			},
		},
		"gives up after MaxRetries": {
			responses: []func(http.ResponseWriter){status(502)},
			call:      func(c *Client) error { _, err := c.GetPool(context.Background(), "a"); return err },
			wantErr:   `reading work pool "a": 502 Bad Gateway`,
			wantReqs:  DefaultMaxRetries + 1,
			checkWait: func(t *testing.T, w []time.Duration) {
				if len(w) != DefaultMaxRetries || w[3] < 2*time.Second {
					t.Errorf("waits = %v, want exponential", w)
				}
			},
		},
		"create refused with 503 (database locked) is sent again": {
			responses: []func(http.ResponseWriter){status(503), status(201)},
			call:      func(c *Client) error { return c.CreatePool(context.Background(), &state.Pool{Name: "a"}) },
			wantReqs:  2,
		},
		"create after a 502 is not sent again": {
			responses: []func(http.ResponseWriter){status(502), status(201)},
			call:      func(c *Client) error { return c.CreatePool(context.Background(), &state.Pool{Name: "a"}) },
			wantErr:   `creating work pool "a": 502 Bad Gateway`,
			wantReqs:  1,
		},
		"update is retried": {
			responses: []func(http.ResponseWriter){status(429), status(504), status(204)},
			call: func(c *Client) error {
				return c.UpdateQueue(context.Background(), "a", "q", map[string]any{"is_paused": true})
			},
			wantReqs: 3,
		},
		"connection reset on GET is retried": {
			responses: []func(http.ResponseWriter){hangUp, okJSON(`{"name":"a","value":1}`)},
			call:      func(c *Client) error { _, _, err := c.GetVariable(context.Background(), "a"); return err },
			wantReqs:  2,
		},
		"connection reset on create is not retried": {
			responses: []func(http.ResponseWriter){hangUp, status(201)},
			call: func(c *Client) error {
				return c.CreateQueue(context.Background(), &state.Queue{Pool: "a", Name: "q"})
			},
			wantErr:  "check PREFECT_API_URL",
			wantReqs: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var n atomic.Int32
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				tc.responses[min(i, len(tc.responses)-1)](w)
			}, Connection{})
			err := tc.call(c.Client)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if got := StatsTotal(c.Stats()); got != tc.wantReqs || int(n.Load()) != tc.wantReqs {
				t.Errorf("requests: counted %d, served %d, want %d", got, n.Load(), tc.wantReqs)
			}
			if tc.checkWait != nil {
				tc.checkWait(t, c.sleeps)
			}
		})
	}
}

func status(code int) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { w.WriteHeader(code) }
}

func okJSON(body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}
}

func retryAfterHeader(v string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", v)
		w.WriteHeader(429)
	}
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.(*net.TCPConn).SetLinger(0) // RST, not FIN
		_ = conn.Close()
	}
}

func TestRequestShape(t *testing.T) {
	var got []string
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.EscapedPath())
		if ua := r.Header.Get("User-Agent"); ua != "prefect-apply/test" {
			t.Errorf("User-Agent = %q", ua)
		}
		if a := r.Header.Get("Authorization"); a != "Bearer k" {
			t.Errorf("Authorization = %q", a)
		}
		if h := r.Header.Get("X-Team"); h != "data" {
			t.Errorf("X-Team = %q", h)
		}
		body := readBody(t, r)
		switch r.Method {
		case "POST":
			if r.URL.Path == "/api/work_pools/" {
				want := map[string]any{"name": "gpu #1?", "type": "kubernetes", "is_paused": true}
				if fmt.Sprint(body) != fmt.Sprint(want) {
					t.Errorf("create body = %v, want only the set fields %v", body, want)
				}
			}
			w.WriteHeader(201)
		case "PATCH":
			if fmt.Sprint(body) != fmt.Sprint(map[string]any{"description": nil}) {
				t.Errorf("patch body = %v", body)
			}
			w.WriteHeader(204)
		default:
			w.WriteHeader(204)
		}
	}, Connection{Auth: Credential{Setting: "PREFECT_API_KEY", Source: "the environment", Header: NewSecret("Bearer k")},
		Headers: map[string]Secret{"X-Team": NewSecret("data")}})
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.CreatePool(ctx, &state.Pool{Name: "gpu #1?", Type: "kubernetes", Paused: ptr(true)}))
	must(c.UpdatePool(ctx, "gpu #1?", map[string]any{"description": nil}))
	must(c.CreateQueue(ctx, &state.Queue{Pool: "gpu #1?", Name: "héllo wörld"}))
	must(c.DeleteQueue(ctx, "gpu #1?", "héllo wörld"))
	must(c.DeletePool(ctx, "gpu #1?"))
	want := []string{
		"POST /api/work_pools/",
		"PATCH /api/work_pools/gpu%20%231%3F",
		"POST /api/work_pools/gpu%20%231%3F/queues",
		"DELETE /api/work_pools/gpu%20%231%3F/queues/h%C3%A9llo%20w%C3%B6rld",
		"DELETE /api/work_pools/gpu%20%231%3F",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	stats := c.Stats()
	if stats["DELETE work_pools/{name}/queues/{name}"] != 1 || stats["POST work_pools/"] != 1 {
		t.Errorf("stats = %v", stats)
	}
}

func TestPerRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}, Connection{Timeout: 50 * time.Millisecond})
	_, err := c.GetPool(context.Background(), "a")
	var ce *ConnError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "PREFECT_API_REQUEST_TIMEOUT") {
		t.Fatalf("error = %v", err)
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		cancel()
		w.WriteHeader(503)
	}, Connection{})
	_, err := c.GetPool(ctx, "a")
	if !errors.Is(err, context.Canceled) && !strings.Contains(fmt.Sprint(err), "503") {
		t.Fatalf("error = %v", err)
	}
	if n := StatsTotal(c.Stats()); n != 1 {
		t.Errorf("%d requests after cancel, want 1", n)
	}
}
