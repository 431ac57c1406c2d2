package cli

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/prefect"
)

// What a user sees when the Prefect API's address answers with something
// that is not the API: the real client against an HTTP server that sends
// proxy pages, cut-off JSON and echoed credentials.

const hostileAuth = "admin:cli-hostile-canary-5e0a"

const hostileFile = `set: team
pools:
  - name: cpu
    type: process
    queues:
      - name: default
        priority: 1
`

func runHostile(t *testing.T, handler http.HandlerFunc, args ...string) (int, string, string) {
	t.Helper()
	srv := httptest.NewServer(handler)
	defer srv.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "pools.yaml")
	if err := os.WriteFile(file, []byte(hostileFile), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"PREFECT_API_URL": srv.URL + "/api", "PREFECT_API_AUTH_STRING": hostileAuth}
	env := &Env{
		LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		HomeDir:   dir,
		// The real client, without the waits between retries.
		NewPrefect: func(c prefect.Connection) (PrefectClient, error) {
			return prefect.New(c, prefect.Options{Sleep: func(context.Context, time.Duration) error { return nil }})
		},
	}
	ios, _, out, errOut := Test()
	code := Run(context.Background(), ios, env, append(args, "-f", file))
	for _, s := range []string{hostileAuth, "cli-hostile-canary-5e0a", base64.StdEncoding.EncodeToString([]byte(hostileAuth))} {
		if strings.Contains(out.String()+errOut.String(), s) {
			t.Errorf("output shows the credential (%q):\nstdout:\n%s\nstderr:\n%s", s, out, errOut)
		}
	}
	return code, out.String(), errOut.String()
}

func TestHostilePrefectThroughTheCLI(t *testing.T) {
	tests := map[string]struct {
		status int
		body   string
		want   string
	}{
		"502 nginx page": {502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center>nginx</center></body></html>",
			"Error: reading the inventories of set \"team\" and the other sets: listing variables named \"prefect-apply_\"...: 502 Bad Gateway: non-JSON response: <html> <head><title>502 Bad Gateway</title></head> <body><center>nginx</center></body></html>\n"},
		"200 HTML page": {200, "<!DOCTYPE html><html><body>Sign in</body></html>",
			"Error: reading the inventories of set \"team\" and the other sets: listing variables named \"prefect-apply_\"...: 200 answer is not the expected JSON (invalid JSON at byte 1): <!DOCTYPE html><html><body>Sign in</body></html>; check that PREFECT_API_URL points at the API (it usually ends in /api)\n"},
		"truncated JSON": {200, `[{"id":"p1","name":"cpu","type":"proc`,
			"Error: reading the inventories of set \"team\" and the other sets: listing variables named \"prefect-apply_\"...: 200 answer is not the expected JSON: it stops after 37 bytes, cut off midway (a proxy or a dropped connection?): [{\"id\":\"p1\",\"name\":\"cpu\",\"type\":\"proc\n"},
		"echoed credential": {401, `{"detail":"bad credentials"}`, // the handler adds the echo
			"Error: reading the inventories of set \"team\" and the other sets: listing variables named \"prefect-apply_\"...: 401 Unauthorized: bad credentials (Authorization: [redacted]); the server rejected PREFECT_API_AUTH_STRING from the environment"},
	}
	for _, cmd := range []string{"diff", "sync", "status"} {
		for name, tc := range tests {
			t.Run(cmd+"/"+name, func(t *testing.T) {
				args := []string{cmd}
				if cmd == "sync" {
					args = append(args, "--yes")
				}
				code, out, errOut := runHostile(t, func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(tc.status)
					body := tc.body
					if name == "echoed credential" {
						body = fmt.Sprintf(`{"detail":"bad credentials (Authorization: %s)"}`, r.Header.Get("Authorization"))
					}
					_, _ = w.Write([]byte(body))
				}, args...)
				if code != ExitFailure {
					t.Errorf("exit %d, want %d", code, ExitFailure)
				}
				if !strings.Contains(errOut, tc.want) {
					t.Errorf("stderr lacks\n%s\nstderr:\n%s", tc.want, errOut)
				}
				if out != "" {
					t.Errorf("stdout should be empty:\n%s", out)
				}
			})
		}
	}
}

const hostileKubeFile = `set: team
kubernetes:
  namespace: prefect
  resources:
    - apiVersion: v1
      kind: Namespace
      metadata:
        name: prefect
pools:
  - name: cpu
    type: kubernetes
`

// The same through the Kubernetes half: a kubeconfig whose server answers
// with pages that are not the Kubernetes API, behind a working Prefect API.
func TestHostileKubernetesThroughTheCLI(t *testing.T) {
	const token = "kube-cli-hostile-canary-77aa"
	tests := map[string]struct {
		contentType, body string
		want              []string
	}{
		"200 HTML page": {"text/html", "<!DOCTYPE html><html><body>Sign in</body></html>",
			[]string{"Error: listing ", "the server answered with an HTML page, not the Kubernetes API; check the cluster's server address in the kubeconfig"}},
		"truncated JSON": {"application/json", `{"kind":"NamespaceList","apiVersion":"v1","items":[{"metadata":{"na`,
			// The first list to fail may be a cluster-wide one or one in the
			// file's namespace.
			[]string{"Error: listing ", `of set "team"`, `: couldn't get version/kind; json parse error: unexpected end of JSON input`}},
		"echoed token": {"text/html", "", // the handler adds the echo
			[]string{"Error: listing ", "Authorization: Bearer [redacted]"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// TLS: client-go sends no credentials to a plain-http server.
			cluster := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				if name == "echoed token" {
					w.WriteHeader(403)
					fmt.Fprintf(w, "<html>Authorization: %s</html>", r.Header.Get("Authorization"))
					return
				}
				_, _ = w.Write([]byte(tc.body))
			}))
			defer cluster.Close()
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte("[]"))
			}))
			defer api.Close()
			dir := t.TempDir()
			file := filepath.Join(dir, "pools.yaml")
			kubeconfig := filepath.Join(dir, "kubeconfig")
			must(t, os.WriteFile(file, []byte(hostileKubeFile), 0o644))
			must(t, os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+cluster.URL+`", certificate-authority-data: "`+caData(cluster)+`"}}]
users: [{name: u, user: {token: "`+token+`"}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600))
			vars := map[string]string{"PREFECT_API_URL": api.URL + "/api", "KUBECONFIG": kubeconfig}
			env := &Env{LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, HomeDir: dir}
			ios, _, out, errOut := Test()
			code := Run(context.Background(), ios, env, []string{"diff", "-f", file})
			if code != ExitFailure {
				t.Errorf("exit %d, want %d", code, ExitFailure)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if strings.Contains(out.String()+errOut.String(), token) {
				t.Errorf("output shows the token:\n%s\n%s", out, errOut)
			}
		})
	}
}

// caData is the server's certificate as kubeconfig's certificate-authority-data.
func caData(srv *httptest.Server) string {
	return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
