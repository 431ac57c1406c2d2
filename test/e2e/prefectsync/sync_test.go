// Package prefectsync tests diff and sync end to end against a real Prefect
// server started by hack/prefect (the Prefect half alone).
package prefectsync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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

	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

type env struct {
	*clitest.Harness
	t   *testing.T
	url string
}

func newEnv(t *testing.T, p *servers.Prefect) *env {
	return &env{t: t, url: p.URL, Harness: clitest.New(t, map[string]string{
		"PREFECT_API_URL": p.URL, "PREFECT_API_AUTH_STRING": "x:y",
	})}
}

// file writes examples/pools.yaml with replacements as pools.yaml.
func (e *env) file(replace ...string) string {
	e.t.Helper()
	return e.Example("pools.yaml", replace...)
}

// get reads a JSON document from the API.
func (e *env) get(path string, out any) { e.t.Helper(); e.call("GET", path, out) }

// post sends an empty filter to a list endpoint.
func (e *env) post(path string, out any) { e.t.Helper(); e.call("POST", path, out) }

func (e *env) call(method, path string, out any) {
	e.t.Helper()
	var body io.Reader
	if method == "POST" {
		body = strings.NewReader("{}")
	}
	req, _ := http.NewRequest(method, e.url+path, body)
	req.Header.Set("Content-Type", "application/json")
	if auth := e.Vars["PREFECT_API_AUTH_STRING"]; auth != "" {
		u, p, _ := strings.Cut(auth, ":")
		req.SetBasicAuth(u, p)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		e.t.Fatal(err)
	}
}

type pool struct {
	Name             string
	Type             string
	Description      *string
	ConcurrencyLimit *int `json:"concurrency_limit"`
	IsPaused         bool `json:"is_paused"`
	BaseJobTemplate  tmpl `json:"base_job_template"`
}

type tmpl struct {
	JobConfiguration map[string]any `json:"job_configuration"`
	Variables        struct {
		Properties map[string]map[string]any `json:"properties"`
	} `json:"variables"`
}

type queue struct {
	Name             string
	Description      string
	Priority         int
	ConcurrencyLimit *int `json:"concurrency_limit"`
	IsPaused         bool `json:"is_paused"`
}

const skip = "--skip-kubernetes"

func TestSyncExampleThenNoWrites(t *testing.T) {
	p := servers.StartPrefect(t, servers.PrefectOptions{})
	e := newEnv(t, p)
	f := e.file()
	e.MustRun(2, "diff", "-f", f, skip)
	e.MustRun(0, "sync", "-f", f, skip, "--yes")
	e.MustRun(0, "diff", "-f", f, skip)

	var gpu pool
	e.get("/work_pools/gpu-tasks", &gpu)
	if gpu.Type != "kubernetes" || gpu.ConcurrencyLimit == nil || *gpu.ConcurrencyLimit != 1 || gpu.Description == nil || *gpu.Description != "Flows that need a GPU" {
		t.Errorf("gpu-tasks = %+v", gpu)
	}
	var gbif pool
	e.get("/work_pools/gbif-automations", &gbif)
	defaults := map[string]any{
		"image": "gbifnorway/prefect-automations:latest", "cpu_request": "500m", "memory_request": "1Gi",
		"cpu_limit": "2", "memory_limit": "4Gi", "service_account_name": "prefect-worker", "namespace": "prefect",
	}
	for name, want := range defaults {
		if got := gbif.BaseJobTemplate.Variables.Properties[name]["default"]; got != want {
			t.Errorf("gbif-automations variable %s default = %v, want %v", name, got, want)
		}
	}
	manifest, _ := json.Marshal(gbif.BaseJobTemplate.JobConfiguration["job_manifest"])
	for _, want := range []string{`"secretKeyRef":{"key":"auth-string","name":"prefect-basic-auth"}`, `"claimName":"shared-data"`, `"mountPath":"/data"`} {
		if !strings.Contains(string(manifest), want) {
			t.Errorf("job manifest lacks %s: %s", want, manifest)
		}
	}
	var queues []queue
	e.post("/work_pools/gpu-tasks/queues/filter", &queues)
	prio := map[string]int{}
	for _, q := range queues {
		prio[q.Name] = q.Priority
	}
	if prio["urgent"] != 1 || prio["default"] != 2 {
		t.Errorf("gpu-tasks queue priorities = %v, want urgent 1, default 2", prio)
	}

	// A second sync sends no write: count what reaches the server.
	rec := recordingProxy(t, p.URL)
	e.Vars["PREFECT_API_URL"] = rec.url
	out := e.MustRun(0, "sync", "-f", f, skip, "--yes")
	if !strings.Contains(out, "No changes") {
		t.Errorf("second sync:\n%s", out)
	}
	for _, r := range rec.requests() {
		if !(strings.HasPrefix(r, "GET ") || strings.HasSuffix(r, "/filter")) {
			t.Errorf("second sync sent a write: %s", r)
		}
	}
	if len(rec.requests()) == 0 {
		t.Error("the proxy saw no request")
	}
}

type recorder struct {
	url  string
	mu   sync.Mutex
	seen []string
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// recordingProxy forwards to target and records "METHOD path" of each request.
func recordingProxy(t *testing.T, target string) *recorder {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, req.Method+" "+req.URL.Path)
		rec.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	rec.url = srv.URL + u.Path
	return rec
}

func TestOneFieldChange(t *testing.T) {
	e := newEnv(t, servers.StartPrefect(t, servers.PrefectOptions{}))
	f := e.file()
	e.MustRun(0, "sync", "-f", f, skip, "--yes")

	f = e.file("concurrencyLimit: 4", "concurrencyLimit: 6")
	out := e.MustRun(2, "diff", "-f", f, skip)
	if !strings.Contains(out, `~ work pool "cpu-intensive" will be updated`) || !strings.Contains(out, "~ concurrencyLimit: 4 → 6") ||
		!strings.Contains(out, "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete.") {
		t.Errorf("diff:\n%s", out)
	}
	var doc struct {
		Changes []struct {
			Key    struct{ Name string }
			Action string
			Fields []struct {
				Path     string
				Old, New any
			}
		}
	}
	if err := json.Unmarshal([]byte(e.MustRun(2, "diff", "-f", f, skip, "-o", "json")), &doc); err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, c := range doc.Changes {
		if c.Action != "no-op" {
			for _, fc := range c.Fields {
				changed = append(changed, fmt.Sprintf("%s %s %s %v→%v", c.Action, c.Key.Name, fc.Path, fc.Old, fc.New))
			}
		}
	}
	if len(changed) != 1 || changed[0] != "update cpu-intensive concurrencyLimit 4→6" {
		t.Errorf("json changes = %v", changed)
	}
	md := e.MustRun(2, "diff", "-f", f, skip, "-o", "markdown")
	if !strings.Contains(md, "- concurrencyLimit: 4\n+ concurrencyLimit: 6") {
		t.Errorf("markdown:\n%s", md)
	}
	e.MustRun(0, "sync", "-f", f, skip, "--yes")
	e.MustRun(0, "diff", "-f", f, skip)
}

func TestTypeChangeIsAReplace(t *testing.T) {
	e := newEnv(t, servers.StartPrefect(t, servers.PrefectOptions{}))
	f := e.file()
	e.MustRun(0, "sync", "-f", f, skip, "--yes")

	// memory-intensive becomes a process pool (without its jobTemplate).
	raw, _ := os.ReadFile(f)
	s := string(raw)
	start := strings.Index(s, "  - name: memory-intensive")
	end := strings.Index(s, "  - name: gpu-tasks")
	block := "  - name: memory-intensive\n    type: process\n    description: Flows that hold large data sets in memory\n    concurrencyLimit: 2\n    queues:\n      - name: default\n        priority: 1\n\n"
	if err := os.WriteFile(f, []byte(s[:start]+block+s[end:]), 0o644); err != nil {
		t.Fatal(err)
	}
	out := e.MustRun(2, "diff", "-f", f, skip)
	if !strings.Contains(out, `-/+ work pool "memory-intensive" will be replaced`) || !strings.Contains(out, "kubernetes → process") {
		t.Errorf("diff:\n%s", out)
	}
	code, _, errOut := e.Run("sync", "-f", f, skip, "--yes")
	if code != 1 || !strings.Contains(errOut, "--allow-replace") {
		t.Fatalf("sync without --allow-replace: exit %d\n%s", code, errOut)
	}
	var mem pool
	e.get("/work_pools/memory-intensive", &mem)
	if mem.Type != "kubernetes" {
		t.Fatalf("pool changed without --allow-replace: %s", mem.Type)
	}
	e.MustRun(0, "sync", "-f", f, skip, "--yes", "--allow-replace")
	e.get("/work_pools/memory-intensive", &mem)
	if mem.Type != "process" {
		t.Errorf("type = %s after replace", mem.Type)
	}
	e.MustRun(0, "diff", "-f", f, skip)
}

func TestPruneOwnsOnlyWhatItCreated(t *testing.T) {
	p := servers.StartPrefect(t, servers.PrefectOptions{})
	e := newEnv(t, p)
	f := e.file()
	e.MustRun(0, "sync", "-f", f, skip, "--yes")

	// A pool made with the official CLI is not the set's.
	cmd := exec.Command(servers.PrefectBin(t), "work-pool", "create", "made-by-hand", "--type", "process")
	cmd.Env = append(os.Environ(), "PREFECT_API_URL="+p.URL, "PREFECT_HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("prefect work-pool create: %v\n%s", err, out)
	}
	// A queue the set created that leaves the file, and a pool.
	g := e.file("      - name: urgent\n        priority: 1\n        description: Short GPU jobs that should not wait behind long training runs\n", "")
	raw, _ := os.ReadFile(g)
	s := string(raw)
	start := strings.Index(s, "  - name: memory-intensive")
	end := strings.Index(s, "  - name: gpu-tasks")
	if err := os.WriteFile(g, []byte(s[:start]+s[end:]), 0o644); err != nil {
		t.Fatal(err)
	}
	out := e.MustRun(0, "diff", "-f", g, skip) // orphans alone are not changes
	for _, want := range []string{`work pool "memory-intensive" is no longer in the file`, `work queue "urgent" in pool "gpu-tasks" is no longer in the file`} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "made-by-hand") {
		t.Errorf("diff mentions a pool the set does not own:\n%s", out)
	}
	out = e.MustRun(0, "sync", "-f", g, skip, "--yes", "--prune")
	if !strings.Contains(out, `work pool "memory-intensive": deleted`) || !strings.Contains(out, `work queue "urgent" in pool "gpu-tasks": deleted`) {
		t.Errorf("sync --prune:\n%s", out)
	}
	var hand pool
	e.get("/work_pools/made-by-hand", &hand) // fails the test if it was deleted
	var queues []queue
	e.post("/work_pools/gpu-tasks/queues/filter", &queues)
	if len(queues) != 1 || queues[0].Name != "default" {
		t.Errorf("gpu-tasks queues = %+v", queues)
	}
	e.MustRun(0, "diff", "-f", g, skip, "--prune")

	// Emptying the set is refused without --allow-empty; the CLI's pool and
	// every default queue survive even with it.
	empty := filepath.Join(e.Dir, "empty.yaml")
	if err := os.WriteFile(empty, []byte("set: gbif\npools: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := e.Run("sync", "-f", empty, skip, "--yes", "--prune")
	if code != 1 || !strings.Contains(errOut, "--allow-empty") {
		t.Fatalf("emptying without --allow-empty: exit %d\n%s", code, errOut)
	}
	e.MustRun(0, "sync", "-f", empty, skip, "--yes", "--prune", "--allow-empty")
	e.get("/work_pools/made-by-hand", &hand)
	var pools []pool
	e.post("/work_pools/filter", &pools)
	if len(pools) != 1 || pools[0].Name != "made-by-hand" {
		t.Errorf("pools after emptying the set: %+v", pools)
	}
}

func TestBasicAuth(t *testing.T) {
	const canary = "admin:CANARY-auth-91b2"
	p := servers.StartPrefect(t, servers.PrefectOptions{AuthString: canary})
	e := newEnv(t, p)
	e.Vars["PREFECT_API_AUTH_STRING"] = canary
	f := e.file()
	e.MustRun(0, "sync", "-f", f, skip, "--yes")
	e.MustRun(0, "diff", "-f", f, skip, "-o", "json")

	delete(e.Vars, "PREFECT_API_AUTH_STRING")
	code, _, errOut := e.Run("diff", "-f", f, skip)
	if code != 1 || !strings.Contains(errOut, "401") || !strings.Contains(errOut, "PREFECT_API_AUTH_STRING") {
		t.Errorf("without credentials: exit %d\n%s", code, errOut)
	}
	e.Vars["PREFECT_API_AUTH_STRING"] = "admin:wrong-CANARY-9"
	code, _, errOut = e.Run("diff", "-f", f, skip)
	if code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("wrong credentials: exit %d\n%s", code, errOut)
	}
	for _, secret := range []string{canary, "CANARY-auth-91b2", "wrong-CANARY-9"} {
		if strings.Contains(e.Output.String(), secret) {
			t.Errorf("output contains the credential %q", secret)
		}
	}
}

// The installed prefect-kubernetes worker builds a Job from the synced
// template with everything the file declares.
func TestWorkerAcceptsTheTemplate(t *testing.T) {
	e := newEnv(t, servers.StartPrefect(t, servers.PrefectOptions{}))
	f := e.file()
	e.MustRun(0, "sync", "-f", f, skip, "--yes")
	for _, name := range []string{"gbif-automations", "gpu-tasks"} {
		var raw json.RawMessage
		e.get("/work_pools/"+name, &raw)
		var pl struct {
			BaseJobTemplate json.RawMessage `json:"base_job_template"`
		}
		if err := json.Unmarshal(raw, &pl); err != nil {
			t.Fatal(err)
		}
		job := renderJob(t, pl.BaseJobTemplate)
		js, _ := json.Marshal(job)
		spec := string(js)
		for _, want := range []string{
			`"image":"gbifnorway/prefect-automations:latest"`,
			`"serviceAccountName":"prefect-worker"`,
			`"name":"PREFECT_API_URL","value":"https://prefect.svc.gbif.no/api"`,
			`"name":"PREFECT_API_AUTH_STRING","valueFrom":{"secretKeyRef":{"key":"auth-string","name":"prefect-basic-auth"}}`,
			`"namespace":"prefect"`,
		} {
			if !strings.Contains(spec, want) {
				t.Errorf("%s: job lacks %s\n%s", name, want, spec)
			}
		}
		switch name {
		case "gbif-automations":
			for _, want := range []string{`"limits":{"cpu":"2","memory":"4Gi"}`, `"requests":{"cpu":"500m","memory":"1Gi"}`, `"claimName":"shared-data"`, `"mountPath":"/data"`} {
				if !strings.Contains(spec, want) {
					t.Errorf("%s: job lacks %s\n%s", name, want, spec)
				}
			}
		case "gpu-tasks":
			for _, want := range []string{`"nvidia.com/gpu":"1"`, `"nodeSelector":{"nvidia.com/gpu.present":"true"}`, `"key":"nvidia.com/gpu"`} {
				if !strings.Contains(spec, want) {
					t.Errorf("%s: job lacks %s\n%s", name, want, spec)
				}
			}
		}
	}
}

// renderJob runs the installed Kubernetes worker's own code to turn a base
// job template into the Job manifest it would create for a flow run.
func renderJob(t *testing.T, template json.RawMessage) map[string]any {
	t.Helper()
	script := `
import asyncio, json, sys, uuid
from prefect.client.schemas.objects import FlowRun
from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

class StubClient:
    async def __aenter__(self): return self
    async def __aexit__(self, *a): return False
    def __getattr__(self, name):
        async def call(*a, **k): return None
        return call

async def main():
    template = json.load(sys.stdin)
    cfg = await KubernetesWorkerJobConfiguration.from_template_and_values(template, {}, client=StubClient())
    cfg.prepare_for_flow_run(FlowRun(id=uuid.uuid4(), name="e2e-run", flow_id=uuid.uuid4()))
    json.dump(cfg.job_manifest, sys.stdout)

asyncio.run(main())
`
	cmd := exec.Command(servers.VenvPython(t), "-c", script)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=/usr/bin:/bin", "PREFECT_HOME=" + t.TempDir()}
	cmd.Stdin = bytes.NewReader(template)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rendering the job with prefect-kubernetes: %v\n%s", err, stderr.String())
	}
	var job map[string]any
	if err := json.Unmarshal(out, &job); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return job
}

// The server moves a queue out of a priority another queue of its pool
// takes; the planner predicts the shift, so one sync converges.
func TestQueuePriorityShiftConvergesInOneSync(t *testing.T) {
	e := newEnv(t, servers.StartPrefect(t, servers.PrefectOptions{}))
	write := func(def, b, a int) string {
		path := filepath.Join(e.Dir, "prio.yaml")
		doc := fmt.Sprintf(`set: prio
pools:
  - name: prio
    type: process
    queues:
      - name: default
        priority: %d
      - name: b
        priority: %d
      - name: a
        priority: %d
`, def, b, a)
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	f := write(1, 2, 3)
	e.MustRun(0, "sync", "-f", f, "--yes")
	e.MustRun(0, "diff", "-f", f)
	// a takes 1 first: the server pushes default and b down a place.
	for _, prios := range [][3]int{{3, 2, 1}, {1, 3, 2}, {2, 1, 3}} {
		f = write(prios[0], prios[1], prios[2])
		e.MustRun(0, "sync", "-f", f, "--yes")
		if out := e.MustRun(0, "diff", "-f", f); !strings.Contains(out, "No changes") {
			t.Errorf("priorities %v, diff after one sync:\n%s", prios, out)
		}
	}
}
