package servers

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestStartPrefect(t *testing.T) {
	client := &http.Client{Timeout: 30 * time.Second}
	do := func(t *testing.T, method, url, user, pass, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}

	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		p := StartPrefect(t, PrefectOptions{})
		if !strings.HasPrefix(p.URL, "http://127.0.0.1:") || !strings.HasSuffix(p.URL, "/api") {
			t.Errorf("URL = %q", p.URL)
		}
		if code, body := do(t, "GET", p.URL+"/health", "", "", ""); code != 200 || body != "true" {
			t.Errorf("GET /health = %d %s", code, body)
		}
		if code, body := do(t, "POST", p.URL+"/work_pools/filter", "", "", "{}"); code != 200 || body != "[]" {
			t.Errorf("POST /work_pools/filter = %d %s", code, body)
		}
	})

	t.Run("auth", func(t *testing.T) {
		t.Parallel()
		p := StartPrefect(t, PrefectOptions{AuthString: "admin:s3cret"})
		if code, body := do(t, "GET", p.URL+"/health", "", "", ""); code != 200 || body != "true" {
			t.Errorf("GET /health without credentials = %d %s", code, body)
		}
		filter := p.URL + "/work_pools/filter"
		if code, body := do(t, "POST", filter, "", "", "{}"); code != 401 {
			t.Errorf("POST /work_pools/filter without credentials = %d %s, want 401", code, body)
		}
		if code, body := do(t, "POST", filter, "admin", "wrong", "{}"); code != 401 {
			t.Errorf("POST /work_pools/filter with a wrong password = %d %s, want 401", code, body)
		}
		if code, body := do(t, "POST", filter, "admin", "s3cret", "{}"); code != 200 {
			t.Errorf("POST /work_pools/filter with credentials = %d %s, want 200", code, body)
		}
	})
}

func TestVenvTools(t *testing.T) {
	for _, p := range []string{PrefectBin(t), VenvPython(t)} {
		if !strings.Contains(p, ".cache/prefect-venv/bin/") {
			t.Errorf("unexpected path %q", p)
		}
	}
}
