package prefectclient

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/prefect"
)

// connect resolves a connection from the given environment only (no profile
// of the machine's user) and builds a client.
func connect(t *testing.T, env map[string]string) *prefect.Client {
	t.Helper()
	conn, err := prefect.Resolve(prefect.ResolveInput{
		Getenv:  func(k string) string { return env[k] },
		HomeDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := prefect.New(conn, prefect.Options{UserAgent: "prefect-apply/e2e"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// raw sends a request around the client, to record what the server itself
// does.
func raw(t *testing.T, method, url, authString string, body any) (int, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		must(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	must(t, err)
	req.Header.Set("Content-Type", "application/json")
	if user, pass, ok := strings.Cut(authString, ":"); ok {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// names lists the "name" fields of a JSON array.
func names(body string) []string {
	var items []struct{ Name string }
	_ = json.Unmarshal([]byte(body), &items)
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Name
	}
	return out
}
