package prefect

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

func TestAPIErrorMessages(t *testing.T) {
	tests := map[string]struct {
		status int
		body   string
		want   string
	}{
		"422 exception_detail": {422, `{"exception_message":"Invalid request received.","exception_detail":[{"loc":["body","base_job_template"],"msg":"Value error, The base_job_template must contain both a job_configuration key and a variables key.","type":"value_error","input":{"job":{"token":"` + canary + `"}}}],"request_body":{"name":"gpu-tasks","base_job_template":{"job":{"token":"` + canary + `"}}}}`,
			`creating work pool "gpu-tasks": 422 Unprocessable Entity: Invalid request received: body.base_job_template: Value error, The base_job_template must contain both a job_configuration key and a variables key.`},
		"409 detail string": {409, `{"detail":"A work pool with this name already exists."}`,
			`creating work pool "gpu-tasks": 409 Conflict: A work pool with this name already exists.`},
		"detail list": {422, `{"detail":[{"loc":["body","limit"],"msg":"too big"},{"loc":["query",0],"msg":"bad"}]}`,
			`422 Unprocessable Entity: body.limit: too big; query.0: bad`},
		"HTML from a proxy": {502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\n\x00\x1b[31m<body>nginx</body></html>",
			`creating work pool "gpu-tasks": 502 Bad Gateway: non-JSON response: <html> <head><title>502 Bad Gateway</title></head> [31m<body>nginx</body></html>`},
		"empty body":   {500, ``, `500 Internal Server Error: non-JSON response: (empty body)`},
		"unknown JSON": {500, `{"oops":1,"request_body":{"k":"` + canary + `"}}`, `500 Internal Server Error: response: {"oops":1}`},
		"odd status":   {520, `{"detail":"x"}`, `creating work pool "gpu-tasks": 520: x`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}, Connection{})
			err := c.CreatePool(context.Background(), &state.Pool{Name: "gpu-tasks"})
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tc.status {
				t.Fatalf("error = %#v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%s\nwant it to contain:\n%s", err, tc.want)
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("error shows the request body: %s", err)
			}
		})
	}
}

func TestHTMLSuccessBody(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!doctype html><html><body>" + strings.Repeat("Prefect UI ", 100) + "</body></html>"))
	}, Connection{})
	_, err := c.ListPools(context.Background())
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, w := range []string{"listing work pools: 200 answer is not the expected JSON", "<!doctype html>", "ends in /api"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q lacks %q", msg, w)
		}
	}
	if len(msg) > 500 {
		t.Errorf("error is %d bytes; the body should be cut to about 200", len(msg))
	}
}

func TestHugeBody(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte("[" + strings.Repeat(`{"name":"x"},`, 1<<16))
		for range (DefaultMaxBodyBytes / len(chunk)) + 2 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}, Connection{})
	_, err := c.ListPools(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listing work pools: response body larger than 32 MiB") {
		t.Fatalf("error = %v", err)
	}
}

func TestUnauthorized(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+canary))
	tests := map[string]struct {
		auth Credential
		want []string
	}{
		"none sent": {want: []string{"listing work pools: 401 Unauthorized: Unauthorized; no credential was sent",
			"PREFECT_API_AUTH_STRING=user:pass for a self-hosted server with basic auth", "PREFECT_API_KEY for Prefect Cloud"}},
		"wrong auth string": {auth: Credential{Setting: "PREFECT_API_AUTH_STRING", Source: "the environment", Header: NewSecret(basic)},
			want: []string{"the server rejected PREFECT_API_AUTH_STRING from the environment", "PREFECT_API_KEY for Prefect Cloud"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 401, map[string]any{"exception_message": "Unauthorized"})
			}, Connection{Auth: tc.auth})
			_, err := c.ListPools(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), basic) {
				t.Errorf("error shows the secret: %v", err)
			}
			if n := StatsTotal(c.Stats()); n != 1 {
				t.Errorf("a 401 must not be retried: %d requests", n)
			}
		})
	}
}

func TestConnErrorHidesUserinfo(t *testing.T) {
	conn := Connection{URL: "http://admin:" + canary + "@127.0.0.1:1/api", URLSource: "flag --prefect-url"}
	c, err := New(conn, Options{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPool(context.Background(), "a")
	var ce *ConnError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %#v", err)
	}
	msg := err.Error()
	for _, w := range []string{`reading work pool "a": no answer from the Prefect API at http://127.0.0.1:1/api (from flag --prefect-url)`, "connection refused", "check PREFECT_API_URL"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q lacks %q", msg, w)
		}
	}
	if strings.Contains(msg, canary) || strings.Contains(msg, "admin") {
		t.Errorf("error shows userinfo: %s", msg)
	}
}

func TestIsNotFoundIsConflict(t *testing.T) {
	nf := &APIError{Status: 404}
	if !IsNotFound(nf) || IsConflict(nf) || !IsConflict(&APIError{Status: 409}) || IsNotFound(errors.New("x")) {
		t.Error("status helpers disagree")
	}
}
