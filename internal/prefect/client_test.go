package prefect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
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
	must(c.UpdatePool(ctx, "gpu #1?", state.PoolUpdate{Fields: state.FieldDescription, Pool: &state.Pool{}}))
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
