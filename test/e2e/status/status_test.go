// Package status tests `prefect-apply status` end to end against a real
// Prefect server.
package status

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/render"
	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

// world runs prefect-apply in-process against one Prefect server.
type world struct {
	*clitest.Harness
	prefect *servers.Prefect
}

// status runs `status -o json` and decodes its report.
func (w *world) status(args ...string) render.StatusReport {
	w.T.Helper()
	out := w.MustRun(0, append([]string{"status", "-o", "json"}, args...)...)
	var r render.StatusReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		w.T.Fatalf("%v\n%s", err, out)
	}
	return r
}

// api sends a request to the Prefect API (servers.Prefect.MustRequest).
func (w *world) api(method, path string, body, out any) {
	w.T.Helper()
	w.prefect.MustRequest(w.T, method, path, body, out)
}

func byName(r render.StatusReport) map[string]render.PoolStatus {
	m := map[string]render.PoolStatus{}
	for _, p := range r.Pools {
		m[p.Name] = p
	}
	return m
}

// status shows the example's pools with their queues, a worker's heartbeat
// once one called in, late runs, and drift after an out-of-band change.
func TestStatus(t *testing.T) {
	p := servers.StartPrefect(t, servers.PrefectOptions{})
	w := &world{Harness: clitest.New(t, map[string]string{"PREFECT_API_URL": p.URL}), prefect: p}
	f := w.Example("pools.yaml")

	// Before sync: every pool is missing and drifts.
	r := w.status("-f", f)
	if len(r.Pools) != 4 {
		t.Fatalf("status before sync: %+v", r)
	}
	for _, pool := range r.Pools {
		if pool.State != render.StateMissing || pool.Sync != render.Drift {
			t.Errorf("before sync, %s: %+v", pool.Name, pool)
		}
	}

	w.MustRun(0, "sync", "-f", f, "--skip-kubernetes", "--yes")
	started := time.Now().Add(-time.Minute)
	w.api("POST", "/work_pools/gpu-tasks/workers/heartbeat", map[string]any{"name": "gpu-worker-1", "heartbeat_interval_seconds": 30}, nil)
	var flow struct {
		ID string `json:"id"`
	}
	w.api("POST", "/flows/", map[string]any{"name": "late-flow"}, &flow)
	for range 2 {
		w.api("POST", "/flow_runs/", map[string]any{"flow_id": flow.ID, "work_pool_name": "cpu-intensive", "work_queue_name": "default",
			"state": map[string]any{"type": "SCHEDULED", "name": "Late"}}, nil)
	}

	r = w.status("-f", f)
	if r.Set != "gbif" || r.File != f {
		t.Errorf("report: set %q, file %q", r.Set, r.File)
	}
	pools := byName(r)
	wantQueues := map[string][]string{
		"gbif-automations": {"default"}, "cpu-intensive": {"default"}, "memory-intensive": {"default"}, "gpu-tasks": {"urgent", "default"},
	}
	for name, queues := range wantQueues {
		pool, ok := pools[name]
		if !ok {
			t.Errorf("no row for %s", name)
			continue
		}
		var got []string
		for _, q := range pool.Queues {
			got = append(got, q.Name)
		}
		if strings.Join(got, ",") != strings.Join(queues, ",") {
			t.Errorf("%s's queues: %v, want %v", name, got, queues)
		}
		if pool.Sync != render.InSync || pool.Type != "kubernetes" {
			t.Errorf("%s after sync: %+v", name, pool)
		}
	}
	gpu := pools["gpu-tasks"]
	if gpu.Workers.Online != 1 || gpu.LastHeartbeat == nil || gpu.LastHeartbeat.Before(started) || gpu.State != render.StateReady {
		t.Errorf("gpu-tasks after a heartbeat: %+v", gpu)
	}
	if cpu := pools["cpu-intensive"]; cpu.Workers.Online+cpu.Workers.Offline != 0 || cpu.LastHeartbeat != nil || cpu.State != render.StateNotReady ||
		cpu.LateRuns == nil || *cpu.LateRuns != 2 || cpu.ConcurrencyLimit == nil || *cpu.ConcurrencyLimit != 4 {
		t.Errorf("cpu-intensive: %+v", cpu)
	}
	checkWorkCounts(w, f, flow.ID)
	if n := pools["gpu-tasks"].LateRuns; n == nil || *n != 0 {
		t.Errorf("gpu-tasks late runs: %v", n)
	}

	out, errOut := w.Must(0, "status", "-f", f, "--stats")
	for _, want := range []string{"gpu-tasks", "1 online", "  urgent", "priority 2", "4 pools, 5 queues", "all in sync with " + f} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	// One list each of pools, queues (twice: diff's and status's) and the
	// inventory, then two per pool.
	for route, n := range map[string]int{"POST work_pools/filter": 1, "POST work_pools/{name}/workers/filter": 4, "POST flow_runs/count": 4, "POST work_queues/filter": 2} {
		if !strings.Contains(errOut, fmt.Sprintf("  %-44s %d\n", route, n)) {
			t.Errorf("--stats: want %d × %s:\n%s", n, route, errOut)
		}
	}

	// Out of band: memory-intensive's limit, gpu-tasks' urgent queue's
	// description (which the file sets) and pause (which it leaves alone).
	w.api("PATCH", "/work_pools/memory-intensive", map[string]any{"concurrency_limit": 7}, nil)
	w.api("PATCH", "/work_pools/gpu-tasks/queues/urgent", map[string]any{"is_paused": true, "description": "by hand"}, nil)
	pools = byName(w.status("-f", f))
	if m := pools["memory-intensive"]; m.Sync != render.Drift || *m.ConcurrencyLimit != 7 {
		t.Errorf("memory-intensive after an out-of-band change: %+v", m)
	}
	if g := pools["gpu-tasks"]; g.Sync != render.Drift || g.Queues[0].Sync != render.Drift || g.Queues[0].State != render.StatePaused || g.Queues[1].Sync != render.InSync {
		t.Errorf("gpu-tasks after its queue was changed: %+v", g)
	}
	if pools["cpu-intensive"].Sync != render.InSync {
		t.Errorf("cpu-intensive drifts: %+v", pools["cpu-intensive"])
	}
	out = w.MustRun(0, "status", "-f", f)
	if !strings.Contains(out, "2 differ from "+f) {
		t.Errorf("status after the changes:\n%s", out)
	}

	// Without a file: every pool, a pool the file does not know included.
	w.api("POST", "/work_pools/", map[string]any{"name": "adhoc", "type": "process"}, nil)
	r = w.status()
	if len(r.Pools) != 5 || r.File != "" || r.Pools[0].Name != "adhoc" || r.Pools[0].Sync != "" {
		t.Errorf("status without -f: %+v", r)
	}
}

// checkWorkCounts puts a deployment with a running flow run on gpu-tasks'
// urgent queue: status counts it on the pool and the queue, and counts the
// two late runs without a deployment on cpu-intensive.
func checkWorkCounts(w *world, f, flow string) {
	w.T.Helper()
	var dep struct {
		ID string `json:"id"`
	}
	w.api("POST", "/deployments/", map[string]any{"name": "gpu-job", "flow_id": flow, "work_pool_name": "gpu-tasks", "work_queue_name": "urgent"}, &dep)
	w.api("POST", "/deployments/"+dep.ID+"/create_flow_run", map[string]any{"state": map[string]any{"type": "RUNNING"}}, nil)
	pools := byName(w.status("-f", f))
	gpu, cpu := pools["gpu-tasks"], pools["cpu-intensive"]
	running := render.QueueStatus{}
	for _, q := range gpu.Queues {
		if q.Name == "urgent" {
			running = q
		}
	}
	if gpu.Deployments == nil || *gpu.Deployments != 1 || gpu.Runs == nil || gpu.Runs.Running != 1 || gpu.Runs.Total() != 1 ||
		running.Deployments == nil || *running.Deployments != 1 || running.Runs == nil || running.Runs.Running != 1 {
		w.T.Errorf("gpu-tasks with a running deployment: %+v, urgent %+v", gpu, running)
	}
	if cpu.Deployments == nil || *cpu.Deployments != 0 || cpu.Runs == nil || cpu.Runs.Scheduled != 2 {
		w.T.Errorf("cpu-intensive's late runs: deployments %v, runs %+v", cpu.Deployments, cpu.Runs)
	}
}
