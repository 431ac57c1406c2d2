package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/render"
)

const statusFile = `set: team
pools:
  - name: cpu
    type: process
    concurrencyLimit: 4
    queues:
      - name: default
        priority: 1
      - name: bulk
        priority: 2
  - name: gpu
    type: process
`

func statusJSON(t *testing.T, w *memWorld, args ...string) render.StatusReport {
	t.Helper()
	out, _ := w.mustRun(0, append([]string{"status", "-o", "json"}, args...)...)
	var r render.StatusReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return r
}

func TestStatus(t *testing.T) {
	w := newMemWorld(t)
	f := w.write("pools.yaml", statusFile)
	w.mustRun(0, "sync", "-f", f, "--yes")
	beat := time.Date(2026, 11, 26, 19, 0, 0, 0, time.UTC)
	w.prefect.workers["cpu"] = []prefect.Worker{
		{Name: "a", Status: "ONLINE", LastHeartbeat: beat.Add(-time.Minute)},
		{Name: "b", Status: "ONLINE", LastHeartbeat: beat},
		{Name: "c", Status: "OFFLINE", LastHeartbeat: beat.Add(-time.Hour)},
	}
	w.prefect.late["cpu"] = 3
	// Not in the file: shown without -f only.
	w.prefect.pools["other"] = copyOf(w.prefect.pools["gpu"])
	w.prefect.pools["other"].Name = "other"

	r := statusJSON(t, w, "-f", f)
	if r.File != f || r.Set != "team" || len(r.Pools) != 2 {
		t.Fatalf("report: %+v", r)
	}
	cpu := r.Pools[0]
	if cpu.Name != "cpu" || cpu.State != render.StateReady && cpu.State != render.StateNotReady || cpu.Workers != (render.WorkerCount{Online: 2, Offline: 1}) ||
		cpu.LastHeartbeat == nil || !cpu.LastHeartbeat.Equal(beat) || *cpu.LateRuns != 3 || *cpu.ConcurrencyLimit != 4 || cpu.Sync != render.InSync {
		t.Errorf("cpu: %+v", cpu)
	}
	if len(cpu.Queues) != 2 || cpu.Queues[0].Name != "default" || cpu.Queues[1].Name != "bulk" || cpu.Queues[1].Sync != render.InSync {
		t.Errorf("cpu's queues: %+v", cpu.Queues)
	}
	if gpu := r.Pools[1]; gpu.Workers != (render.WorkerCount{}) || gpu.LastHeartbeat != nil || *gpu.LateRuns != 0 || len(gpu.Queues) != 1 || gpu.Queues[0].Sync != "" {
		t.Errorf("gpu (its default queue is not declared): %+v", gpu)
	}

	// Out of band: a limit changed, a declared queue deleted.
	w.prefect.pools["gpu"].ConcurrencyLimit = new(int)
	delete(w.prefect.queues, queueKey("cpu", "bulk"))
	r = statusJSON(t, w, "-f", f)
	if r.Pools[0].Sync != render.Drift || r.Pools[0].Queues[1].State != render.StateMissing || r.Pools[0].Queues[1].Sync != render.Drift {
		t.Errorf("cpu after its queue was deleted: %+v", r.Pools[0])
	}
	if r.Pools[1].Sync != render.Drift {
		t.Errorf("gpu after its limit changed: %+v", r.Pools[1])
	}

	// Without a file: every pool, by name, no sync column.
	r = statusJSON(t, w)
	if len(r.Pools) != 3 || r.Pools[2].Name != "other" || r.Pools[0].Sync != "" || r.File != "" {
		t.Errorf("without -f: %+v", r)
	}

	out, _ := w.mustRun(0, "status", "-f", f)
	for _, want := range []string{"POOL / QUEUE", "2 online, 1 offline", "drift", "  bulk", "missing", "2 pools, 3 queues", "2 differ from " + f} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if _, errOut := w.mustRun(1, "status", "-o", "yaml"); !strings.Contains(errOut, `--output "yaml": use text or json`) {
		t.Errorf("bad --output: %s", errOut)
	}
}

// A declared pool the server does not have is a row of its own.
func TestStatusMissingPool(t *testing.T) {
	w := newMemWorld(t)
	f := w.write("pools.yaml", statusFile)
	r := statusJSON(t, w, "-f", f)
	if len(r.Pools) != 2 || r.Pools[0].State != render.StateMissing || r.Pools[0].LateRuns != nil || r.Pools[0].Sync != render.Drift ||
		len(r.Pools[0].Queues) != 2 || r.Pools[0].Queues[0].Name != "default" || r.Pools[0].Queues[0].State != render.StateMissing {
		t.Errorf("report: %+v", r)
	}
}
