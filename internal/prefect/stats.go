package prefect

import (
	"context"
	"maps"
	"net/http"
	"sync"
)

type routeKey struct{}

// withRoute tags a request's context with its route, e.g.
// "POST work_pools/filter", for counting.
func withRoute(ctx context.Context, route string) context.Context {
	return context.WithValue(ctx, routeKey{}, route)
}

// counter is a RoundTripper that counts requests, retries and redirects
// included, by the route in their context; a request without one counts
// under its method and path.
type counter struct {
	next   http.RoundTripper
	mu     sync.Mutex
	counts map[string]int
}

func (c *counter) RoundTrip(req *http.Request) (*http.Response, error) {
	route, _ := req.Context().Value(routeKey{}).(string)
	if route == "" {
		route = req.Method + " " + req.URL.EscapedPath()
	}
	c.mu.Lock()
	c.counts[route]++
	c.mu.Unlock()
	return c.next.RoundTrip(req)
}

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// StatsTotal sums a Stats map; handy in tests and summaries.
func StatsTotal(stats map[string]int) int {
	n := 0
	for _, v := range stats {
		n += v
	}
	return n
}
