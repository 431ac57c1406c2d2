package prefectsync

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// depsFile is the file of TestBlastRadius: a Kubernetes pool with two
// queues, whose image the test changes, and a process pool it prunes.
func depsFile(e *env, image, extra string) string {
	return fmt.Sprintf(`set: %s
pools:
  - name: %s
    type: kubernetes
    jobTemplate:
      image: "%s"
    queues:
      - {name: default}
      - {name: urgent, priority: 2}
%s`, e.set, e.pool("a"), image, extra)
}

func processPool(e *env) string {
	return fmt.Sprintf("  - name: %s\n    type: process\n", e.pool("b"))
}

// deployment creates a deployment of flow on pool/queue through the REST
// API and returns its id.
func (a api) deployment(flow, name, pool, queue string, vars map[string]any, extra map[string]any) string {
	a.t.Helper()
	body := map[string]any{"name": name, "flow_id": flow, "work_pool_name": pool, "work_queue_name": queue}
	if vars != nil {
		body["job_variables"] = vars
	}
	for k, v := range extra {
		body[k] = v
	}
	var d struct{ ID string }
	if st := a.server.Request(a.t, http.MethodPost, "/deployments/", body, &d); st != http.StatusCreated && st != http.StatusOK {
		a.t.Fatalf("creating deployment %s: %d", name, st)
	}
	return d.ID
}

// run creates a flow run of a deployment in a state: SCHEDULED in 2030 (so
// that it stays Scheduled), PENDING or RUNNING.
func (a api) run(deployment, stateType string) {
	a.t.Helper()
	st := map[string]any{"type": stateType}
	if stateType == "SCHEDULED" {
		st["state_details"] = map[string]any{"scheduled_time": "2030-01-01T00:00:00Z"}
	}
	if code := a.server.Request(a.t, http.MethodPost, "/deployments/"+deployment+"/create_flow_run", map[string]any{"state": st}, nil); code != http.StatusCreated {
		a.t.Fatalf("creating a %s run of %s: %d", stateType, deployment, code)
	}
}

// statsCount is the count --stats printed for a route, 0 when absent.
func statsCount(errOut, route string) int {
	for _, line := range strings.Split(errOut, "\n") {
		var n int
		if f := strings.Fields(line); len(f) == 3 && f[0]+" "+f[1] == route {
			fmt.Sscan(f[2], &n)
			return n
		}
	}
	return 0
}

// The plan shows what a change does to the deployments on a pool and their
// runs, blocks what would strand them, and warns about job variables a new
// template drops or refuses, against the real server. Reading them costs
// no request for a plan without changes and 2 + ceil(D/200) otherwise.
func TestBlastRadius(t *testing.T) {
	e := newEnv(t, server(t), "blast")
	a := e.api()
	both := e.Write("both.yaml", depsFile(e, "example/flows:1", processPool(e)))
	e.sync(0, both, "--yes")

	var flow struct{ ID string }
	e.server.Request(t, http.MethodPost, "/flows/", map[string]any{"name": "blast-flow"}, &flow)
	dropped := a.deployment(flow.ID, "gpu-job", e.pool("a"), "default", map[string]any{"image": "example/flows:1", "gpu": 2}, nil)
	retyped := a.deployment(flow.ID, "typed-job", e.pool("a"), "urgent", map[string]any{}, nil)
	// The server checks job variables on create, not on a PATCH of them alone.
	if st := e.server.Request(t, http.MethodPatch, "/deployments/"+retyped, map[string]any{"job_variables": map[string]any{"image": 5}}, nil); st != http.StatusNoContent {
		t.Fatalf("patching job variables: %d", st)
	}
	a.deployment(flow.ID, "clean-job", e.pool("a"), "default", nil, nil)
	onB := a.deployment(flow.ID, "nightly", e.pool("b"), "default", map[string]any{},
		map[string]any{"schedules": []any{map[string]any{"schedule": map[string]any{"cron": "0 3 * * *", "timezone": "UTC"}, "active": false}}})
	a.run(dropped, "SCHEDULED")
	a.run(onB, "SCHEDULED")
	a.run(onB, "PENDING")
	a.run(onB, "RUNNING")

	_, errOut := e.Must(0, e.planArgs("diff", both, "--stats")...)
	for _, route := range []string{"POST deployments/paginate", "POST flows/filter", "POST flow_runs/paginate"} {
		if n := statsCount(errOut, route); n != 0 {
			t.Errorf("a plan without changes sent %d × %s:\n%s", n, route, errOut)
		}
	}

	// Pruning pool b strands its deployment: blocked, named, counted.
	aOnly := e.Write("a.yaml", depsFile(e, "example/flows:1", ""))
	out, errOut := e.Must(2, e.planArgs("diff", aOnly, "--prune", "--stats")...)
	for _, want := range []string{
		fmt.Sprintf(`- work pool %q will be deleted`, e.pool("b")),
		"! runs here: 1 deployment (blast-flow/nightly); runs: 1 scheduled, 1 pending, 1 running",
		"! then: the deployments stay, without a work pool",
		"! blocked: sync refuses to strand these deployments",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff --prune lacks %q:\n%s", want, out)
		}
	}
	// D = 1 deployment on the pool: 2 + ceil(1/200) = 3 requests.
	extra := 0
	for route, want := range map[string]int{"POST deployments/paginate": 1, "POST flows/filter": 1, "POST flow_runs/paginate": 1} {
		n := statsCount(errOut, route)
		extra += n
		if n != want {
			t.Errorf("--stats: %d × %s, want %d:\n%s", n, route, want, errOut)
		}
	}
	if extra != 3 {
		t.Errorf("reading the dependents took %d requests, want 2 + ceil(1/200) = 3", extra)
	}
	// As GitHub annotations: an error, with no line (the pool is not in
	// the file).
	gh := e.diff(2, aOnly, "--prune", "-o", "github")
	if want := fmt.Sprintf("::error title=prefect-apply diff::work pool %q will be deleted%%0Aruns here: 1 deployment (blast-flow/nightly)", e.pool("b")); !strings.Contains(gh, want) {
		t.Errorf("diff --prune -o github lacks %q:\n%s", want, gh)
	}
	code, _, stderr := e.Run(e.planArgs("sync", aOnly, "--prune", "--yes")...)
	if code != 1 || !strings.Contains(stderr, "--allow-orphaning") {
		t.Errorf("sync of a blocked prune: exit %d\n%s", code, stderr)
	}
	if _, ok := a.pool(e.pool("b")); !ok {
		t.Fatal("a blocked sync deleted the pool")
	}
	out = e.sync(0, aOnly, "--prune", "--yes", "--allow-orphaning")
	if !strings.Contains(out, "allowed by --allow-orphaning") {
		t.Errorf("sync --allow-orphaning:\n%s", out)
	}
	if _, ok := a.pool(e.pool("b")); ok {
		t.Error("sync --allow-orphaning kept the pool")
	}

	// Pausing pool a shows the run that will wait.
	paused := e.Write("paused.yaml", strings.Replace(depsFile(e, "example/flows:1", ""), "    type: kubernetes\n", "    type: kubernetes\n    paused: true\n", 1))
	out = e.diff(2, paused)
	if !strings.Contains(out, "! runs here: 3 deployments (blast-flow/clean-job, blast-flow/gpu-job, blast-flow/typed-job); runs: 1 scheduled, 0 pending, 0 running") ||
		!strings.Contains(out, "then: paused: workers get no runs from it") || strings.Contains(out, "blocked") {
		t.Errorf("diff of a pause:\n%s", out)
	}

	// A new image: the template changes, and each deployment's variables
	// are checked against it; only the two that break warn.
	newImage := e.Write("image.yaml", depsFile(e, "example/flows:2", ""))
	out = e.diff(2, newImage)
	warnings := []string{
		`! warning: deployment "blast-flow/gpu-job": variable "gpu": the template no longer declares it, so workers drop it`,
		`! warning: deployment "blast-flow/typed-job": variable "image": the deployment's value is number, but the template wants string or null`,
	}
	for _, want := range warnings {
		if !strings.Contains(out, want) {
			t.Errorf("diff of a template change lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "! warning:"); n != len(warnings) || strings.Contains(out, "clean-job\": variable") {
		t.Errorf("%d warnings, want %d:\n%s", n, len(warnings), out)
	}
	// As GitHub annotations: each warning on the line that declares pool a.
	gh = e.diff(2, newImage, "-o", "github")
	for _, want := range []string{
		fmt.Sprintf("::warning file=%s,line=3,title=prefect-apply diff::work pool %q will be updated: warning: deployment \"blast-flow/gpu-job\"", newImage, e.pool("a")),
		fmt.Sprintf("::warning file=%s,line=3,title=prefect-apply diff::work pool %q will be updated: warning: deployment \"blast-flow/typed-job\"", newImage, e.pool("a")),
		"::notice title=prefect-apply diff::Plan: 0 to create, 1 to update",
	} {
		if !strings.Contains(gh, want) {
			t.Errorf("diff -o github lacks %q:\n%s", want, gh)
		}
	}
	code, _, stderr = e.Run(e.planArgs("diff", newImage, "--strict")...)
	if code != 1 || !strings.Contains(stderr, "--strict: the plan has 2 warnings") {
		t.Errorf("diff --strict: exit %d\n%s", code, stderr)
	}
	e.sync(0, newImage, "--yes")
}
