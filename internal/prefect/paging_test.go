package prefect

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// shiftingPools serves pools ordered by name; before answering request
// number n (from 1), change(n, names) may delete or add pools, as another
// client does while the pages are read.
func shiftingPools(t *testing.T, total int, change func(n int, names []string) []string) http.HandlerFunc {
	var mu sync.Mutex
	names := make([]string, total)
	for i := range names {
		names[i] = fmt.Sprintf("pool-%04d", i)
	}
	n := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		n++
		names = change(n, names)
		b := readBody(t, r)
		limit, offset := int(b["limit"].(float64)), int(b["offset"].(float64))
		page := []map[string]any{}
		for i := offset; i < min(offset+limit, len(names)); i++ {
			page = append(page, map[string]any{"id": "id-" + names[i], "name": names[i], "type": "process",
				"base_job_template": map[string]any{}, "status": "NOT_READY"})
		}
		writeJSON(w, 200, page)
	}
}

func without(names []string, name string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}

// A pool deleted by someone else between two pages shifts the rest by one:
// with offsets alone the pool at the boundary was never read. The overlap
// shows the shift and the listing starts again.
func TestListPoolsWhileOneIsDeleted(t *testing.T) {
	c := newTestClient(t, shiftingPools(t, 250, func(n int, names []string) []string {
		if n == 2 { // after the first page
			return without(names, "pool-0005")
		}
		return names
	}), Connection{})
	pools, err := c.ListPools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range pools {
		if got[p.Name] {
			t.Errorf("%s read twice", p.Name)
		}
		got[p.Name] = true
	}
	for i := range 250 {
		if name := fmt.Sprintf("pool-%04d", i); !got[name] && name != "pool-0005" {
			t.Errorf("%s was never read", name)
		}
	}
	if len(pools) != 249 {
		t.Errorf("%d pools, want the 249 left", len(pools))
	}
	// Two pages, then the two of the second attempt.
	if n := c.Stats()["POST work_pools/filter"]; n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

// A list that changes on every page is an error, after a few attempts.
func TestListPoolsThatNeverSettle(t *testing.T) {
	c := newTestClient(t, shiftingPools(t, 1000, func(n int, names []string) []string {
		return names[1:]
	}), Connection{})
	_, err := c.ListPools(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listing work pools: the list changed while it was read page by page") {
		t.Fatalf("err = %v", err)
	}
	if n := c.Stats()["POST work_pools/filter"]; n != 2*(maxRestarts+1) {
		t.Errorf("%d requests, want %d", n, 2*(maxRestarts+1))
	}
}

// The overlap costs no request at the sizes that matter: 1000 pools are
// still 6 pages, 3000 objects 16.
func TestListPoolsOverlapRequests(t *testing.T) {
	for total, want := range map[int]int{1000: 6, 3000: 16, 199: 1, 200: 2, 398: 2, 399: 3} {
		c := newTestClient(t, shiftingPools(t, total, func(_ int, names []string) []string { return names }), Connection{})
		pools, err := c.ListPools(context.Background())
		if err != nil || len(pools) != total {
			t.Fatalf("%d pools: got %d, %v", total, len(pools), err)
		}
		if n := c.Stats()["POST work_pools/filter"]; n != want {
			t.Errorf("%d pools: %d requests, want %d", total, n, want)
		}
	}
}
