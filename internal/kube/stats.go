package kube

import (
	"maps"
	"net/http"
	"strings"
	"sync"
)

// counter counts requests by verb and resource kind, e.g. "LIST secrets"
// or "PATCH serviceaccounts (dry run)".
type counter struct {
	next   http.RoundTripper
	mu     sync.Mutex
	counts map[string]int
}

func (c *counter) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.counts[route(req)]++
	c.mu.Unlock()
	return c.next.RoundTrip(req)
}

// route names a request: its verb and the resource of its path
// (/api/v1/namespaces/NS/secrets/NAME → secrets).
func route(req *http.Request) string {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	// api/v1/... or apis/GROUP/VERSION/...
	rest := parts
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		rest = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		rest = parts[3:]
	}
	named := len(rest)%2 == 0
	if len(rest) >= 2 && rest[0] == "namespaces" && len(rest) > 2 {
		rest = rest[2:]
		named = len(rest) == 2
	}
	resource := ""
	if len(rest) > 0 {
		resource = rest[0]
	}
	verb := req.Method
	if verb == http.MethodGet && !named {
		verb = "LIST"
	}
	name := verb + " " + resource
	if req.URL.Query().Get("dryRun") != "" {
		name += " (dry run)"
	}
	return name
}

// WrappedRoundTripper lets client-go reach the transport under the counter
// (to cancel a request that timed out).
func (c *counter) WrappedRoundTripper() http.RoundTripper { return c.next }

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}
