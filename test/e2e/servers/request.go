package servers

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

var apiClient = &http.Client{Timeout: 2 * time.Minute}

// Request sends a request to the server's REST API, independently of
// prefect-apply (with the server's basic auth, if any), and decodes a 2xx
// answer with a body into out. It returns the status, and fails tb on a
// transport error or an answer that does not decode.
func (p *Prefect) Request(tb testing.TB, method, path string, body, out any) int {
	tb.Helper()
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, p.URL+path, r)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if p.AuthString != "" {
		u, pw, _ := strings.Cut(p.AuthString, ":")
		req.SetBasicAuth(u, pw)
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode < 300 && out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.Fatalf("%s %s: %v\n%s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}
