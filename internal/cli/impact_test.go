package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/render"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

const twoPools = `set: team
pools:
  - name: cpu
    type: process
    queues:
      - {name: default}
      - {name: urgent, priority: 2}
  - name: gpu
    type: process
`

// A prune that would strand deployments is blocked and named, in text,
// JSON and Markdown; --allow-orphaning lets it through; a plan that
// changes no existing pool reads no deployment.
func TestPruneOfAPoolWithDeploymentsIsBlocked(t *testing.T) {
	w := newMemWorld(t)
	both := w.write("pools.yaml", twoPools)
	w.mustRun(0, "sync", "-f", both, "--yes")
	w.prefect.deployments = []state.Deployment{
		{ID: "d1", Name: "etl/nightly", Pool: "gpu", Queue: "default"},
		{ID: "d2", Name: "etl/hourly", Pool: "cpu", Queue: "urgent"},
	}
	w.prefect.runs = map[state.Key]state.RunCounts{state.QueueKey("gpu", "default"): {Scheduled: 3, Running: 1}}
	w.mustRun(0, "diff", "-f", both)
	if w.prefect.dependentReads != 0 {
		t.Errorf("a plan without changes read the deployments %d times", w.prefect.dependentReads)
	}

	cpuOnly := w.write("cpu.yaml", strings.Split(twoPools, "  - name: gpu")[0])
	out, _ := w.mustRun(2, "diff", "-f", cpuOnly, "--prune")
	for _, want := range []string{
		`- work pool "gpu" will be deleted`,
		`! runs here: 1 deployment (etl/nightly); runs: 3 scheduled, 0 pending, 1 running`,
		`! then: the deployments stay, without a work pool: no worker picks up their runs, which turn Late`,
		`! blocked: sync refuses to strand these deployments; move them first, or rerun with --allow-orphaning`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff --prune lacks %q:\n%s", want, out)
		}
	}
	md, _ := w.mustRun(2, "diff", "-f", cpuOnly, "--prune", "-o", "markdown")
	if i, j := strings.Index(md, "#### Deployments affected"), strings.Index(md, "| | Object | Change |"); i < 0 || j < i ||
		!strings.Contains(md, "**blocked**") {
		t.Errorf("markdown: the deployments do not come first:\n%s", md)
	}
	js, _ := w.mustRun(2, "diff", "-f", cpuOnly, "--prune", "-o", "json")
	var doc render.PlanDocument
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Summary.Blocked != 1 {
		t.Errorf("json summary: %+v", doc.Summary)
	}

	code, _, errOut := w.run("sync", "-f", cpuOnly, "--prune", "--yes")
	if code != 1 || !strings.Contains(errOut, `work pool "gpu": 1 deployment (etl/nightly)`) || !strings.Contains(errOut, "--allow-orphaning") {
		t.Errorf("sync of a blocked plan: exit %d\n%s", code, errOut)
	}
	if _, ok := w.prefect.pools["gpu"]; !ok {
		t.Fatal("a blocked sync deleted the pool")
	}
	out, _ = w.mustRun(0, "sync", "-f", cpuOnly, "--prune", "--yes", "--allow-orphaning")
	if !strings.Contains(out, "allowed by --allow-orphaning") {
		t.Errorf("sync --allow-orphaning:\n%s", out)
	}
	if _, ok := w.prefect.pools["gpu"]; ok {
		t.Error("sync --allow-orphaning kept the pool")
	}
}

// Pausing a queue shows the runs that will wait; it is not blocked.
func TestPauseShowsTheRunsThatWait(t *testing.T) {
	w := newMemWorld(t)
	f := w.write("pools.yaml", twoPools)
	w.mustRun(0, "sync", "-f", f, "--yes")
	w.prefect.deployments = []state.Deployment{{ID: "d2", Name: "etl/hourly", Pool: "cpu", Queue: "urgent"}}
	w.prefect.runs = map[state.Key]state.RunCounts{state.QueueKey("cpu", "urgent"): {Scheduled: 5, Pending: 2}}
	paused := w.write("paused.yaml", strings.Replace(twoPools, "{name: urgent, priority: 2}", "{name: urgent, priority: 2, paused: true}", 1))
	out, _ := w.mustRun(2, "diff", "-f", paused)
	if !strings.Contains(out, "runs here: 1 deployment (etl/hourly); runs: 5 scheduled, 2 pending, 0 running") ||
		!strings.Contains(out, "then: paused: workers get no runs from it") || strings.Contains(out, "blocked") {
		t.Errorf("diff of a pause:\n%s", out)
	}
	w.mustRun(0, "sync", "-f", paused, "--yes")
}

// A saved plan records what it strands: applied as made when nothing
// changed, refused when more deployments target the object since.
func TestSavedPlanRecordsOrphaning(t *testing.T) {
	w := newMemWorld(t)
	both := w.write("pools.yaml", twoPools)
	w.mustRun(0, "sync", "-f", both, "--yes")
	w.prefect.deployments = []state.Deployment{{ID: "d1", Name: "etl/nightly", Pool: "gpu", Queue: "default"}}
	cpuOnly := w.write("cpu.yaml", strings.Split(twoPools, "  - name: gpu")[0])
	saved := w.write("plan.json", "")
	w.mustRun(2, "diff", "-f", cpuOnly, "--prune", "--allow-orphaning", "--out", saved)

	w.prefect.deployments = append(w.prefect.deployments, state.Deployment{ID: "d3", Name: "etl/late", Pool: "gpu", Queue: "default"})
	code, _, errOut := w.run("sync", "-f", cpuOnly, "--plan", saved, "--yes")
	if code != 1 || !strings.Contains(errOut, "2 deployments target it now, against 1 when the plan was made") {
		t.Errorf("a saved plan that now strands more: exit %d\n%s", code, errOut)
	}
	w.prefect.deployments = w.prefect.deployments[:1]
	if code, _, errOut := w.run("sync", "-f", cpuOnly, "--plan", saved, "--yes", "--allow-orphaning=false"); code != 1 || !strings.Contains(errOut, "--allow-orphaning, which --allow-orphaning=false contradicts") {
		t.Errorf("--allow-orphaning=false on a plan made with it: exit %d\n%s", code, errOut)
	}
	w.mustRun(0, "sync", "-f", cpuOnly, "--plan", saved, "--yes")
	if _, ok := w.prefect.pools["gpu"]; ok {
		t.Error("the saved plan did not delete the pool")
	}
}

// diff -o github annotates a blocked delete (not in the file: no line)
// and a pause (on the queue's line), then sums the plan up in a notice.
func TestDiffGitHubAnnotations(t *testing.T) {
	w := newMemWorld(t)
	f := w.write("pools.yaml", twoPools)
	w.mustRun(0, "sync", "-f", f, "--yes")
	w.prefect.deployments = []state.Deployment{
		{ID: "d1", Name: "etl/nightly", Pool: "gpu", Queue: "default"},
		{ID: "d2", Name: "etl/hourly", Pool: "cpu", Queue: "urgent"},
	}
	changed := strings.Split(twoPools, "  - name: gpu")[0]
	changed = strings.Replace(changed, "{name: urgent, priority: 2}", "{name: urgent, priority: 2, paused: true}", 1)
	cpuOnly := w.write("cpu.yaml", changed)
	out, _ := w.mustRun(2, "diff", "-f", cpuOnly, "--prune", "-o", "github")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{
		`::warning file=` + cpuOnly + `,line=7,title=prefect-apply diff::work queue "urgent" in pool "cpu" will be updated%0Aruns here: 1 deployment (etl/hourly)`,
		`::error title=prefect-apply diff::work pool "gpu" will be deleted%0Aruns here: 1 deployment (etl/nightly)`,
		`::notice title=prefect-apply diff::Plan: 0 to create, 1 to update, 0 to replace, 1 to delete.`,
	}
	if len(lines) != len(want) {
		t.Fatalf("diff -o github:\n%s", out)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d:\n%s\nwant a line starting with\n%s", i+1, lines[i], want[i])
		}
	}
	if code, _, errOut := w.run("sync", "-f", f, "-o", "github"); code != 1 || !strings.Contains(errOut, `--output "github": use text, json or markdown`) {
		t.Errorf("sync -o github: exit %d\n%s", code, errOut)
	}
}

// An inventory that cannot be written after the changes fails the sync
// (exit 1, the error said), though the changes were made; the next sync
// writes it and converges.
func TestInventoryWriteAfterApplyingFailsTheSync(t *testing.T) {
	w := newMemWorld(t)
	both := w.write("pools.yaml", twoPools)
	w.mustRun(0, "sync", "-f", both, "--yes")
	cpuOnly := w.write("cpu.yaml", strings.Split(twoPools, "  - name: gpu")[0])
	w.prefect.failNextVarWrite = true
	code, out, errOut := w.run("sync", "-f", cpuOnly, "--prune", "--yes")
	if code != 1 || !strings.Contains(out, `work pool "gpu": deleted`) || !strings.Contains(errOut, "Error: ") || !strings.Contains(errOut, "503") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	w.mustRun(0, "sync", "-f", cpuOnly, "--prune", "--yes")
	w.mustRun(0, "diff", "-f", cpuOnly, "--prune")
}
