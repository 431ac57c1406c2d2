package servers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
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
	status, _ := p.send(tb, method, path, body, out)
	return status
}

// MustRequest sends a request as Request does and fails tb unless the
// answer is 2xx.
func (p *Prefect) MustRequest(tb testing.TB, method, path string, body, out any) {
	tb.Helper()
	if status, raw := p.send(tb, method, path, body, out); status >= 300 {
		tb.Fatalf("%s %s: %d %s", method, path, status, raw)
	}
}

// send sends a request (see Request) and returns the status and the body
// of the answer.
func (p *Prefect) send(tb testing.TB, method, path string, body, out any) (int, []byte) {
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
	return resp.StatusCode, raw
}

// Get reads path into out (see Request): true on 200, false on 404; any
// other status fails tb.
func (p *Prefect) Get(tb testing.TB, path string, out any) bool {
	tb.Helper()
	switch st := p.Request(tb, http.MethodGet, path, nil, out); st {
	case http.StatusOK:
		return true
	case http.StatusNotFound:
		return false
	default:
		tb.Fatalf("GET %s: %d", path, st)
		return false
	}
}

// List posts filter to a .../filter route and decodes the answer into out;
// any status but 200 fails tb.
func (p *Prefect) List(tb testing.TB, path string, filter, out any) {
	tb.Helper()
	if st := p.Request(tb, http.MethodPost, path, filter, out); st != http.StatusOK {
		tb.Fatalf("POST %s: %d", path, st)
	}
}

// CLI runs the pinned prefect CLI against the server, in Env with prompts
// and colours off, and fails tb unless it succeeds; it returns what the
// CLI printed.
func (p *Prefect) CLI(tb testing.TB, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, PrefectBin(tb), args...)
	cmd.Env = append(p.Env(), "PREFECT_CLI_PROMPT=false", "PREFECT_CLI_COLORS=false")
	cmd.WaitDelay = 10 * time.Second
	began := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("prefect %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	tb.Logf("prefect %s: %s", strings.Join(args, " "), time.Since(began).Round(time.Millisecond))
	return string(out)
}
