// Package clitest runs prefect-apply in-process for end-to-end tests, with
// an environment of the test's own (never the machine's), and keeps all it
// printed so a test can search it for secrets.
package clitest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/cli"
	"github.com/prefect-apply/prefect-apply/internal/testutil/repo"
	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

// Harness runs commands for one test.
type Harness struct {
	T *testing.T
	// Vars is the environment prefect-apply sees.
	Vars map[string]string
	// Dir is a temporary folder: the home folder and where files go.
	Dir string
	// Output collects stdout and stderr of every run.
	Output bytes.Buffer
}

// New returns a harness with the given environment.
func New(t *testing.T, vars map[string]string) *Harness {
	return &Harness{T: t, Vars: vars, Dir: t.TempDir()}
}

// Run runs prefect-apply with args and returns its exit code and output.
func (h *Harness) Run(args ...string) (code int, stdout, stderr string) {
	h.T.Helper()
	ios, _, out, errOut := cli.Test()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lookup := func(k string) (string, bool) { v, ok := h.Vars[k]; return v, ok }
	code = cli.Run(ctx, ios, &cli.Env{LookupEnv: lookup, HomeDir: h.Dir}, args)
	h.Output.WriteString(out.String() + errOut.String())
	return code, out.String(), errOut.String()
}

// MustRun runs prefect-apply and fails the test unless it exits with want;
// it returns stdout.
func (h *Harness) MustRun(want int, args ...string) string {
	h.T.Helper()
	out, _ := h.Must(want, args...)
	return out
}

// Must runs prefect-apply and fails the test unless it exits with want; it
// returns stdout and stderr.
func (h *Harness) Must(want int, args ...string) (stdout, stderr string) {
	h.T.Helper()
	code, out, errOut := h.Run(args...)
	if code != want {
		h.T.Fatalf("prefect-apply %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out, errOut
}

// NeverPrints fails the test, when it ends, if Output holds any of values
// (a secret's value, in clear or encoded). Whatever else a test must never
// show (a file prefect-apply wrote) can be added to Output.
func (h *Harness) NeverPrints(values ...string) {
	h.T.Cleanup(func() {
		for _, v := range values {
			if strings.Contains(h.Output.String(), v) {
				h.T.Errorf("the secret value %q appeared in prefect-apply's output", v)
			}
		}
	})
}

// Example writes examples/pools.yaml to Dir/name with replacements (old,
// new, ...; each must apply once) and returns its path.
func (h *Harness) Example(name string, replace ...string) string {
	h.T.Helper()
	raw, err := os.ReadFile(repo.Path(h.T, "examples", "pools.yaml"))
	if err != nil {
		h.T.Fatal(err)
	}
	s := string(raw)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(s, replace[i]) {
			h.T.Fatalf("examples/pools.yaml has no %q", replace[i])
		}
		s = strings.Replace(s, replace[i], replace[i+1], 1)
	}
	return h.Write(name, s)
}

// Write writes content to Dir/name and returns its path.
func (h *Harness) Write(name, content string) string {
	h.T.Helper()
	path := filepath.Join(h.Dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		h.T.Fatal(err)
	}
	return path
}

// Through runs f with PREFECT_API_URL pointing at a fresh recording proxy
// in front of p (servers.Prefect.Record), and returns the recorder; it
// fails the test if no request went through the proxy.
func (h *Harness) Through(p *servers.Prefect, f func()) *servers.Recorder {
	h.T.Helper()
	rec := p.Record(h.T)
	saved, had := h.Vars["PREFECT_API_URL"]
	h.Vars["PREFECT_API_URL"] = rec.URL
	defer func() {
		if had {
			h.Vars["PREFECT_API_URL"] = saved
		} else {
			delete(h.Vars, "PREFECT_API_URL")
		}
	}()
	f()
	if len(rec.Requests()) == 0 {
		h.T.Fatal("no request went through the recording proxy")
	}
	return rec
}
