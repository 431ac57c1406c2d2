package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// Answers that are not what the Kubernetes API promises, as proxies and
// broken servers send them: each must end in an error that names the
// request and what was wrong, without a panic, the token, or memory that
// grows with the body.

const hostileToken = "kube-hostile-canary-91ce"

func hostileClient(t *testing.T, handler http.HandlerFunc, timeout time.Duration) *Client {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	c, err := NewForConfig(&rest.Config{Host: srv.URL, BearerToken: hostileToken, Timeout: timeout}, "hostile", Options{Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var namespaceKey = state.Key{System: state.Kubernetes, Kind: "Namespace", Name: "prefect"}

const nginx502 = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n"

func TestHostileAnswers(t *testing.T) {
	nsList := `{"kind":"NamespaceList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"prefect","labels":{"app.kubernetes.io/managed-by":"prefect-apply","prefect-apply.io/set":"s"}}}]}`
	tests := map[string]struct {
		status      int
		contentType string
		body        string
		call        string // "list" (List namespaces), "read" (ReadLive), "get" (Get a namespace)
		want        []string
	}{
		"502 nginx page": {status: 502, contentType: "text/html", body: nginx502, call: "list",
			want: []string{"listing Namespaces", "502 Bad Gateway", "nginx"}},
		"200 HTML page": {status: 200, contentType: "text/html", body: "<!DOCTYPE html><html><body>Dashboard</body></html>", call: "list",
			want: []string{"listing Namespaces", "an HTML page, not the Kubernetes API", "server address in the kubeconfig"}},
		"200 HTML page on get": {status: 200, contentType: "text/html", body: "<!DOCTYPE html><html><body>Dashboard</body></html>", call: "get",
			want: []string{`reading Namespace "prefect"`, "an HTML page, not the Kubernetes API"}},
		"truncated list": {status: 200, contentType: "application/json", body: nsList[:90], call: "read",
			want: []string{"listing", "of set \"s\"", "json parse error: unexpected end of JSON input"}},
		"list for an object": {status: 200, contentType: "application/json", body: `[` + nsList + `]`, call: "list",
			want: []string{"listing Namespaces", "cannot unmarshal array"}},
		"items of the wrong type": {status: 200, contentType: "application/json", body: `{"kind":"NamespaceList","apiVersion":"v1","metadata":{},"items":"none"}`, call: "list",
			want: []string{"listing Namespaces", "cannot unmarshal string", "items"}},
		"object of the wrong type": {status: 200, contentType: "application/json", body: `{"kind":"Namespace","apiVersion":"v1","metadata":"prefect"}`, call: "get",
			want: []string{`reading Namespace "prefect"`, "not that object"}},
		"echoed token in a Status": {status: 401, contentType: "application/json",
			body: `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"token Bearer ` + hostileToken + ` rejected","reason":"Unauthorized","code":401}`,
			call: "list", want: []string{"listing Namespaces", "token Bearer [redacted] rejected", "did not accept the kubeconfig's credentials (context \"hostile\")"}},
		"a path that is not the API": {status: 404, contentType: "text/plain", body: "404 page not found", call: "list",
			want: []string{"listing Namespaces", "has no such API path", "without a path"}},
		"echoed token in a page": {status: 403, contentType: "text/html",
			body: `<html><body>Authorization: Bearer ` + hostileToken + `</body></html>`,
			call: "get", want: []string{`reading Namespace "prefect"`, "Authorization: Bearer [redacted]"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := hostileClient(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}, 0)
			err := hostileCall(c, tc.call)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%s", w, err)
				}
			}
			if strings.Contains(err.Error(), hostileToken) {
				t.Errorf("error shows the token: %s", err)
			}
			if len(err.Error()) > 1200 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}

func hostileCall(c *Client, call string) error {
	ctx := context.Background()
	switch call {
	case "list":
		_, err := c.List(ctx, namespaceKey, "")
		return err
	case "read":
		_, err := c.ReadLive(ctx, "s", nil, nil)
		return err
	default:
		_, _, err := c.Get(ctx, namespaceKey)
		return err
	}
}

// Fields the client does not know are kept, not refused.
func TestHostileExtraFields(t *testing.T) {
	c := hostileClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !strings.HasSuffix(r.URL.Path, "/namespaces") {
			_, _ = w.Write([]byte(`{"kind":"List","apiVersion":"v1","metadata":{},"items":[]}`))
			return
		}
		_, _ = w.Write([]byte(`{"kind":"NamespaceList","apiVersion":"v1","metadata":{"resourceVersion":"7","brandNew":1},"extra":{"a":[1,2]},
			"items":[{"metadata":{"name":"prefect","labels":{"app.kubernetes.io/managed-by":"prefect-apply","prefect-apply.io/set":"s"},"futureField":"x"},"spec":{"finalizers":["kubernetes"],"unknown":true},"status":{"phase":"Active"}}]}`))
	}, 0)
	live, err := c.ReadLive(context.Background(), "s", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := live[namespaceKey]
	if o == nil || o.Object["spec"].(map[string]any)["unknown"] != true {
		t.Fatalf("live = %v", live)
	}
}

// A list answer far larger than any real one is cut off, and what the
// client allocates does not grow with the body.
func TestHostileHugeBody(t *testing.T) {
	const streamed = 1 << 30
	var sent atomic.Int64
	item := `{"metadata":{"name":"n","labels":{"x":"` + strings.Repeat("y", 60) + `"}}},`
	chunk := []byte(strings.Repeat(item, 4000))
	c := hostileClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"NamespaceList","apiVersion":"v1","metadata":{},"items":[`))
		for sent.Load() < streamed {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}, 0)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := c.List(context.Background(), namespaceKey, "")
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("no error")
	}
	t.Log(err)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("server sent %d MiB before the client hung up; the client allocated %d MiB", sent.Load()>>20, alloc>>20)
	for _, w := range []string{"listing Namespaces", fmt.Sprintf("larger than %d MiB", MaxBodyBytes>>20)} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%s", w, err)
		}
	}
	if limit := uint64(4 * MaxBodyBytes); alloc > limit {
		t.Errorf("allocated %d MiB for one answer, want at most %d MiB", alloc>>20, limit>>20)
	}
	if sent.Load() >= streamed {
		t.Errorf("the client read all %d MiB", sent.Load()>>20)
	}
}

// A body that trickles forever ends at the request timeout.
func TestHostileEndlessBody(t *testing.T) {
	stop := make(chan struct{})
	c := hostileClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"NamespaceList","items":[`))
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
	}, 500*time.Millisecond)
	defer close(stop)
	began := time.Now()
	_, err := c.List(context.Background(), namespaceKey, "")
	took := time.Since(began)
	if err == nil {
		t.Fatal("no error")
	}
	t.Logf("after %v: %v", took.Round(time.Millisecond), err)
	for _, w := range []string{"listing Namespaces", "no complete answer", "within 500ms"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%s", w, err)
		}
	}
	if took > 5*time.Second {
		t.Errorf("took %v", took)
	}
}

// Without a timeout in the kubeconfig, a request still ends.
func TestDefaultTimeout(t *testing.T) {
	c, err := NewForConfig(&rest.Config{Host: "http://127.0.0.1:1"}, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.timeout != DefaultTimeout {
		t.Errorf("timeout = %v, want %v", c.timeout, DefaultTimeout)
	}
	c, _ = NewForConfig(&rest.Config{Host: "http://127.0.0.1:1", Timeout: time.Second}, "", Options{})
	if c.timeout != time.Second {
		t.Errorf("timeout = %v, want the configuration's 1s", c.timeout)
	}
	c, _ = NewForConfig(&rest.Config{Host: "http://127.0.0.1:1", Timeout: time.Second}, "", Options{Timeout: 3 * time.Second})
	if c.timeout != 3*time.Second {
		t.Errorf("timeout = %v, want --kube-request-timeout's 3s", c.timeout)
	}
}

// A server that never answers: the request ends at --kube-request-timeout
// and the error says which setting that is.
func TestRequestTimeoutOption(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	defer close(release)
	c, err := NewForConfig(&rest.Config{Host: srv.URL}, "", Options{Timeout: 300 * time.Millisecond, Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_, _, err = c.Get(context.Background(), namespaceKey)
	if err == nil || !strings.Contains(err.Error(), "within 300ms (--kube-request-timeout)") {
		t.Errorf("a hung request: %v", err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("a hung request took %v", took)
	}
}

// A redirect to another host is not followed: the token stays home.
func TestHostileRedirectToAnotherHost(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"NamespaceList","apiVersion":"v1","metadata":{},"items":[]}`))
	}))
	defer other.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(other.URL, "http://"))
	elsewhere := "http://localhost:" + port
	for _, code := range []int{302, 307} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			c := hostileClient(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere+r.URL.RequestURI(), code)
			}, 0)
			_, err := c.List(context.Background(), namespaceKey, "")
			mu.Lock()
			for _, a := range seen {
				if strings.Contains(a, hostileToken) {
					t.Errorf("the token was sent to %s: %q", elsewhere, a)
				}
			}
			n := len(seen)
			mu.Unlock()
			if err == nil {
				t.Fatalf("the redirect was followed (%d requests there)", n)
			}
			t.Log(err)
			for _, w := range []string{"listing Namespaces", "redirect", "localhost:" + port, "not followed"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%s", w, err)
				}
			}
		})
	}
}

// A server that is not there, and a kubeconfig that is not there, are
// named with what to check.
func TestUnreachableAndMissingConfig(t *testing.T) {
	c, err := NewForConfig(&rest.Config{Host: "http://127.0.0.1:1"}, "dev", Options{Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	err = hostileCall(c, "list")
	if err == nil || !strings.Contains(err.Error(), `cannot reach the Kubernetes API at http://127.0.0.1:1 (context "dev")`) || !strings.Contains(err.Error(), "--skip-kubernetes") {
		t.Errorf("closed port: %v", err)
	}

	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{KubeconfigEnv: filepath.Join(dir, "nonexistent")}, "KUBECONFIG names " + filepath.Join(dir, "nonexistent") + ", which does not exist; and this is not a pod in a cluster"},
		{Options{HomeDir: dir}, "KUBECONFIG is not set and " + filepath.Join(dir, ".kube", "config") + " does not exist"},
		{Options{KubeconfigEnv: empty}, empty + " holds no cluster"},
	} {
		_, err := New(tc.opts)
		if err == nil || !errors.Is(err, ErrNoConfig) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "KUBERNETES_MASTER") {
			t.Errorf("New(%+v): %v, want ErrNoConfig saying %q", tc.opts, err, tc.want)
		}
	}
}
