package prefect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/cli"
	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

// runTimeout bounds one prefect-apply run; generous for a loaded machine.
const runTimeout = 5 * time.Minute

// examplePools are the pools of examples/pools.yaml, in file order.
var examplePools = []string{"gbif-automations", "cpu-intensive", "memory-intensive", "gpu-tasks"}

// env runs prefect-apply for one test: its own ownership set, its own pool
// names (the example's, prefixed), an environment built from a map (nothing
// of the process's environment leaks in) and a temporary home directory.
type env struct {
	t      *testing.T
	server *servers.Prefect
	set    string
	prefix string
	dir    string
	home   string
	vars   map[string]string
	// transcript is everything prefect-apply printed, for leak checks.
	transcript bytes.Buffer
}

func newEnv(t *testing.T, p *servers.Prefect, name string) *env {
	t.Helper()
	e := &env{
		t: t, server: p, set: "e2e-" + name, prefix: name + "-",
		dir: t.TempDir(), home: t.TempDir(),
		vars: map[string]string{"PREFECT_API_URL": p.URL},
	}
	if p.AuthString != "" {
		e.vars["PREFECT_API_AUTH_STRING"] = p.AuthString
	}
	return e
}

// pool is the name this test uses for one of the example's pools.
func (e *env) pool(name string) string { return e.prefix + name }

// run runs prefect-apply in-process and returns its exit code, stdout and
// stderr.
func (e *env) run(args ...string) (int, string, string) {
	e.t.Helper()
	ios, _, stdout, stderr := cli.Test()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	vars := e.vars
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	began := time.Now()
	code := cli.Run(ctx, ios, &cli.Env{LookupEnv: lookup, HomeDir: e.home}, args)
	e.t.Logf("prefect-apply %s: exit %d in %s", strings.Join(args, " "), code, time.Since(began).Round(time.Millisecond))
	e.transcript.WriteString(stdout.String())
	e.transcript.WriteString(stderr.String())
	return code, stdout.String(), stderr.String()
}

// must runs prefect-apply and fails the test unless it exits with want.
func (e *env) must(want int, args ...string) (string, string) {
	e.t.Helper()
	code, stdout, stderr := e.run(args...)
	if code != want {
		e.t.Fatalf("prefect-apply %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	return stdout, stderr
}

// planArgs are the arguments of diff or sync on file f for this test's set.
func (e *env) planArgs(cmd, f string, extra ...string) []string {
	return append([]string{cmd, "-f", f, "--set", e.set, "--skip-kubernetes"}, extra...)
}

// diff runs `diff` and fails unless it exits with want; it returns stdout.
func (e *env) diff(want int, f string, extra ...string) string {
	e.t.Helper()
	out, _ := e.must(want, e.planArgs("diff", f, extra...)...)
	return out
}

// sync runs `sync` and fails unless it exits with want; it returns stdout.
func (e *env) sync(want int, f string, extra ...string) string {
	e.t.Helper()
	out, _ := e.must(want, e.planArgs("sync", f, extra...)...)
	return out
}

// example writes examples/pools.yaml with this test's pool names, after
// the edits, to a new file, and returns its path. Each edit is an old/new
// pair whose old text must occur in the file (after renaming).
func (e *env) example(name string, edits ...string) string {
	e.t.Helper()
	raw, err := os.ReadFile(filepath.Join(servers.RepoRoot(e.t), "examples", "pools.yaml"))
	if err != nil {
		e.t.Fatal(err)
	}
	s := string(raw)
	for _, p := range examplePools {
		old := "\n  - name: " + p + "\n"
		if strings.Count(s, old) != 1 {
			e.t.Fatalf("examples/pools.yaml: expected one pool %q", p)
		}
		s = strings.Replace(s, old, "\n  - name: "+e.pool(p)+"\n", 1)
	}
	if len(edits)%2 != 0 {
		e.t.Fatal("example: edits come in old/new pairs")
	}
	for i := 0; i < len(edits); i += 2 {
		if !strings.Contains(s, edits[i]) {
			e.t.Fatalf("example: the file has no %q", edits[i])
		}
		s = strings.Replace(s, edits[i], edits[i+1], 1)
	}
	return e.write(name, s)
}

func (e *env) write(name, content string) string {
	e.t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// poolBlock returns the YAML of one pool of a file written by example, from
// its "  - name:" line to the next pool's (or the end).
func (e *env) poolBlock(content, pool string) string {
	e.t.Helper()
	start := strings.Index(content, "  - name: "+e.pool(pool)+"\n")
	if start < 0 {
		e.t.Fatalf("no pool %q in the file", e.pool(pool))
	}
	end := strings.Index(content[start+1:], "\n  - name: ")
	if end < 0 {
		return content[start:]
	}
	return content[start : start+1+end+1]
}

// api reads the server over plain HTTP, independently of prefect-apply.
type api struct {
	t      *testing.T
	server *servers.Prefect
}

func (e *env) api() api { return api{t: e.t, server: e.server} }

// do sends a request (see servers.Prefect.Request) and returns the status.
func (a api) do(method, path string, body, out any) int {
	a.t.Helper()
	return a.server.Request(a.t, method, path, body, out)
}

// pool reads a pool; ok is false on 404.
func (a api) pool(name string) (livePool, bool) {
	a.t.Helper()
	var p livePool
	switch st := a.do("GET", "/work_pools/"+url.PathEscape(name), nil, &p); st {
	case http.StatusOK:
		return p, true
	case http.StatusNotFound:
		return p, false
	default:
		a.t.Fatalf("GET /work_pools/%s: %d", name, st)
	}
	return p, false
}

// mustPool reads a pool that must exist.
func (a api) mustPool(name string) livePool {
	a.t.Helper()
	p, ok := a.pool(name)
	if !ok {
		a.t.Fatalf("work pool %q does not exist", name)
	}
	return p
}

// queues reads a pool's queues by name.
func (a api) queues(pool string) map[string]liveQueue {
	a.t.Helper()
	var qs []liveQueue
	if st := a.do("POST", "/work_pools/"+url.PathEscape(pool)+"/queues/filter", map[string]any{}, &qs); st != http.StatusOK {
		a.t.Fatalf("listing the queues of %q: %d", pool, st)
	}
	out := map[string]liveQueue{}
	for _, q := range qs {
		out[q.Name] = q
	}
	return out
}

// poolNames lists every pool on the server.
func (a api) poolNames() map[string]bool {
	a.t.Helper()
	out := map[string]bool{}
	for offset := 0; ; offset += 100 {
		var ps []livePool
		if st := a.do("POST", "/work_pools/filter", map[string]any{"limit": 100, "offset": offset}, &ps); st != http.StatusOK {
			a.t.Fatalf("listing pools: %d", st)
		}
		for _, p := range ps {
			out[p.Name] = true
		}
		if len(ps) < 100 {
			return out
		}
	}
}

// variable reads a variable's raw JSON document; ok is false on 404.
func (a api) variable(name string) (map[string]any, bool) {
	a.t.Helper()
	var v map[string]any
	st := a.do("GET", "/variables/name/"+url.PathEscape(name), nil, &v)
	if st != http.StatusOK && st != http.StatusNotFound {
		a.t.Fatalf("GET variable %q: %d", name, st)
	}
	return v, st == http.StatusOK
}

type livePool struct {
	ID               string         `json:"id"`
	Updated          string         `json:"updated"`
	Name             string         `json:"name"`
	Type             string         `json:"type"`
	Description      *string        `json:"description"`
	ConcurrencyLimit *int           `json:"concurrency_limit"`
	IsPaused         bool           `json:"is_paused"`
	BaseJobTemplate  map[string]any `json:"base_job_template"`
}

type liveQueue struct {
	ID               string  `json:"id"`
	Updated          string  `json:"updated"`
	Name             string  `json:"name"`
	Description      *string `json:"description"`
	Priority         int     `json:"priority"`
	ConcurrencyLimit *int    `json:"concurrency_limit"`
	IsPaused         bool    `json:"is_paused"`
}

// variableDefault is base_job_template.variables.properties[name].default.
func (p livePool) variableDefault(name string) (any, bool) {
	v, ok := dig(p.BaseJobTemplate, "variables", "properties", name, "default")
	return v, ok
}

// container is the first container of the template's job manifest.
func (p livePool) container() map[string]any {
	cs, _ := dig(p.BaseJobTemplate, "job_configuration", "job_manifest", "spec", "template", "spec", "containers")
	list, _ := cs.([]any)
	if len(list) == 0 {
		return nil
	}
	c, _ := list[0].(map[string]any)
	return c
}

// dig walks nested maps.
func dig(v any, path ...string) (any, bool) {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// compact renders a value as compact JSON, for substring checks.
func compact(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

// recorder is a reverse proxy in front of the Prefect server that records
// every request that goes through it.
type recorder struct {
	url  string // the API URL through the proxy
	mu   sync.Mutex
	seen []string
}

func newRecorder(t *testing.T, apiURL string) *recorder {
	t.Helper()
	u, err := url.Parse(apiURL)
	if err != nil {
		t.Fatal(err)
	}
	target := &url.URL{Scheme: u.Scheme, Host: u.Host}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, r.Method+" "+r.URL.Path)
		rec.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	rec.url = srv.URL + u.Path
	return rec
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// writes returns the requests that can change the server: anything but a
// GET/HEAD or a POST to a .../filter route (a read).
func (r *recorder) writes() []string {
	var out []string
	for _, req := range r.requests() {
		method, path, _ := strings.Cut(req, " ")
		switch {
		case method == http.MethodGet || method == http.MethodHead:
		case method == http.MethodPost && strings.HasSuffix(path, "/filter"):
		default:
			out = append(out, req)
		}
	}
	return out
}

// through runs f with PREFECT_API_URL pointing at a fresh recording proxy
// and returns the recorder.
func (e *env) through(f func()) *recorder {
	e.t.Helper()
	rec := newRecorder(e.t, e.server.URL)
	saved := e.vars["PREFECT_API_URL"]
	e.vars["PREFECT_API_URL"] = rec.url
	defer func() { e.vars["PREFECT_API_URL"] = saved }()
	f()
	if len(rec.requests()) == 0 {
		e.t.Fatal("no request went through the recording proxy")
	}
	return rec
}

// prefectCLI runs the official prefect CLI against this test's server, in
// an environment of its own (a temporary PREFECT_HOME, no profile).
func (e *env) prefectCLI(args ...string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, servers.PrefectBin(e.t), args...)
	home := e.t.TempDir()
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "PREFECT_HOME=" + filepath.Join(home, ".prefect"),
		"PREFECT_PROFILES_PATH=" + filepath.Join(home, "profiles.toml"),
		"PREFECT_API_URL=" + e.server.URL, "PREFECT_CLI_COLORS=false", "PREFECT_CLI_PROMPT=false",
	}
	if e.server.AuthString != "" {
		cmd.Env = append(cmd.Env, "PREFECT_API_AUTH_STRING="+e.server.AuthString)
	}
	cmd.WaitDelay = 10 * time.Second
	began := time.Now()
	out, err := cmd.CombinedOutput()
	e.t.Logf("prefect %s: %s", strings.Join(args, " "), time.Since(began).Round(time.Millisecond))
	if err != nil {
		e.t.Fatalf("prefect %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// planDoc is the JSON plan (docs/plan-json.md).
type planDoc struct {
	Version int    `json:"version"`
	Set     string `json:"set"`
	Summary struct {
		Create, Update, Replace, Delete, Orphan, Unmanaged, Adopt int
		NoOp                                                      int  `json:"noop"`
		Changes                                                   bool `json:"changes"`
	} `json:"summary"`
	Changes []planChange `json:"changes"`
}

type planChange struct {
	Key struct {
		System, Kind, Namespace, Name string
	} `json:"key"`
	Action   string `json:"action"`
	Reason   string `json:"reason"`
	Implicit bool   `json:"implicit"`
	Fields   []struct {
		Path           string
		Old, New       any
		HasOld, HasNew bool
	} `json:"fields"`
}

func (c planChange) object() string {
	if c.Key.Kind == "WorkQueue" {
		return c.Key.Namespace + "/" + c.Key.Name
	}
	return c.Key.Name
}

// parsePlan decodes a JSON plan strictly: one document, nothing after it.
func parsePlan(t *testing.T, out string) planDoc {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var doc planDoc
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("the JSON plan does not parse: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("text after the JSON plan:\n%s", out)
	}
	return doc
}

// changed lists the plan's changes that are not no-ops, one line per field:
// "ACTION OBJECT PATH OLD→NEW".
func (d planDoc) changed() []string {
	var out []string
	for _, c := range d.Changes {
		if c.Action == "no-op" {
			continue
		}
		if len(c.Fields) == 0 {
			out = append(out, fmt.Sprintf("%s %s", c.Action, c.object()))
		}
		for _, f := range c.Fields {
			out = append(out, fmt.Sprintf("%s %s %s %s→%s", c.Action, c.object(), f.Path, compact(f.Old), compact(f.New)))
		}
	}
	return out
}

// fieldLines returns the indented field lines of a text plan ("~ path: a → b").
func fieldLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "    ") && !strings.HasPrefix(strings.TrimSpace(l), "#") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}

// mustHold fails the test with the description when failed is true: a check
// that once caught a bug, kept so the bug stays fixed.
func mustHold(t *testing.T, failed bool, format string, args ...any) {
	t.Helper()
	if failed {
		t.Errorf("regression: "+format, args...)
	}
}
