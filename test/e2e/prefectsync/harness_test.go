package prefectsync

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/render"
	"github.com/prefect-apply/prefect-apply/internal/state"
	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

// examplePools are the pools of examples/pools.yaml, in file order.
var examplePools = []string{"gbif-automations", "cpu-intensive", "memory-intensive", "gpu-tasks"}

// env runs prefect-apply for one test (clitest.Harness: an environment
// built from a map, nothing of the process's leaking in, and Dir as the
// home directory) with its own ownership set and its own pool names (the
// example's, prefixed).
type env struct {
	*clitest.Harness
	server *servers.Prefect
	set    string
	prefix string
}

func newEnv(t *testing.T, p *servers.Prefect, name string) *env {
	t.Helper()
	vars := map[string]string{"PREFECT_API_URL": p.URL}
	if p.AuthString != "" {
		vars["PREFECT_API_AUTH_STRING"] = p.AuthString
	}
	return &env{Harness: clitest.New(t, vars), server: p, set: "e2e-" + name, prefix: name + "-"}
}

// pool is the name this test uses for one of the example's pools.
func (e *env) pool(name string) string { return e.prefix + name }

// planArgs are the arguments of diff or sync on file f for this test's set.
func (e *env) planArgs(cmd, f string, extra ...string) []string {
	return append([]string{cmd, "-f", f, "--set", e.set, "--skip-kubernetes"}, extra...)
}

// diff runs `diff` and fails unless it exits with want; it returns stdout.
func (e *env) diff(want int, f string, extra ...string) string {
	e.T.Helper()
	return e.MustRun(want, e.planArgs("diff", f, extra...)...)
}

// sync runs `sync` and fails unless it exits with want; it returns stdout.
func (e *env) sync(want int, f string, extra ...string) string {
	e.T.Helper()
	return e.MustRun(want, e.planArgs("sync", f, extra...)...)
}

// example writes examples/pools.yaml with this test's pool names, after
// the edits, to a new file, and returns its path. Each edit is an old/new
// pair whose old text must occur in the file (after renaming).
func (e *env) example(name string, edits ...string) string {
	e.T.Helper()
	if len(edits)%2 != 0 {
		e.T.Fatal("example: edits come in old/new pairs")
	}
	var renames []string
	for _, p := range examplePools {
		renames = append(renames, "\n  - name: "+p+"\n", "\n  - name: "+e.pool(p)+"\n")
	}
	path := e.Example(name, append(renames, edits...)...)
	// A second pool of the same name would keep the example's name and be
	// shared with the other tests.
	s := string(mustRead(e.T, path))
	for _, p := range examplePools {
		if strings.Contains(s, "\n  - name: "+p+"\n") {
			e.T.Fatalf("examples/pools.yaml: expected one pool %q", p)
		}
	}
	return path
}

// poolBlock returns the YAML of one pool of a file written by example, from
// its "  - name:" line to the next pool's (or the end).
func (e *env) poolBlock(content, pool string) string {
	e.T.Helper()
	start := strings.Index(content, "  - name: "+e.pool(pool)+"\n")
	if start < 0 {
		e.T.Fatalf("no pool %q in the file", e.pool(pool))
	}
	end := strings.Index(content[start+1:], "\n  - name: ")
	if end < 0 {
		return content[start:]
	}
	return content[start : start+1+end+1]
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// api reads the server over plain HTTP, independently of prefect-apply.
type api struct {
	t      *testing.T
	server *servers.Prefect
}

func (e *env) api() api { return api{t: e.T, server: e.server} }

// pool reads a pool; ok is false on 404.
func (a api) pool(name string) (p livePool, ok bool) {
	a.t.Helper()
	ok = a.server.Get(a.t, "/work_pools/"+url.PathEscape(name), &p)
	return p, ok
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
	a.server.List(a.t, "/work_pools/"+url.PathEscape(pool)+"/queues/filter", map[string]any{}, &qs)
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
		a.server.List(a.t, "/work_pools/filter", map[string]any{"limit": 100, "offset": offset}, &ps)
		for _, p := range ps {
			out[p.Name] = true
		}
		if len(ps) < 100 {
			return out
		}
	}
}

// variable reads a variable's raw JSON document; ok is false on 404.
func (a api) variable(name string) (v map[string]any, ok bool) {
	a.t.Helper()
	ok = a.server.Get(a.t, "/variables/name/"+url.PathEscape(name), &v)
	return v, ok
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

// object names a change's object the way the tests list them: a pool by
// name, a queue as pool/name.
func object(c plan.Change) string {
	if c.Key.Kind == state.KindWorkQueue {
		return c.Key.Namespace + "/" + c.Key.Name
	}
	return c.Key.Name
}

// changed lists the plan's changes that are not no-ops, one line per field:
// "ACTION OBJECT PATH OLD→NEW".
func changed(d render.PlanDocument) []string {
	var out []string
	for _, c := range d.Changes {
		if c.Action == "no-op" {
			continue
		}
		if len(c.Fields) == 0 {
			out = append(out, fmt.Sprintf("%s %s", c.Action, object(c.Change)))
		}
		for _, f := range c.Fields {
			out = append(out, fmt.Sprintf("%s %s %s %s→%s", c.Action, object(c.Change), f.Path, compact(f.Old), compact(f.New)))
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
