package prefect

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// testClient starts handler behind httptest and returns a client whose
// waits are recorded instead of slept.
type testClient struct {
	*Client
	mu     sync.Mutex
	sleeps []time.Duration
}

func newTestClient(t *testing.T, handler http.HandlerFunc, conn Connection) *testClient {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	if conn.URL == "" {
		conn.URL = srv.URL + "/api"
	}
	if conn.URLSource == "" {
		conn.URLSource = "environment PREFECT_API_URL"
	}
	tc := &testClient{}
	c, err := New(conn, Options{UserAgent: "prefect-apply/test", Sleep: func(_ context.Context, d time.Duration) error {
		tc.mu.Lock()
		defer tc.mu.Unlock()
		tc.sleeps = append(tc.sleeps, d)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	tc.Client = c
	return tc
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readBody decodes a request's JSON body.
func readBody(t *testing.T, r *http.Request) map[string]any {
	t.Helper()
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("request body is not JSON: %s", b)
		}
	}
	return m
}

func ptr[T any](v T) *T { return &v }
