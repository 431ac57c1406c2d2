package prefectsync

import (
	"os"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
)

// A pool whose type changes (kubernetes → process, its jobTemplate gone) is
// a replace: shown as such, refused without --allow-replace with nothing
// written, and done with it.
func TestTypeChangeIsAReplace(t *testing.T) {
	e := newEnv(t, server(t), "replace")
	f := e.example("pools.yaml")
	e.sync(0, f, "--yes")
	a := e.api()
	before := map[string]livePool{}
	for _, p := range examplePools {
		before[p] = a.mustPool(e.pool(p))
	}

	raw, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	block := e.poolBlock(string(raw), "memory-intensive")
	process := "  - name: " + e.pool("memory-intensive") + "\n    type: process\n" +
		"    description: Flows that hold large data sets in memory\n    concurrencyLimit: 2\n" +
		"    queues:\n      - name: default\n        priority: 1\n\n"
	g := e.Write("process.yaml", strings.Replace(string(raw), block, process, 1))

	out := e.diff(2, g)
	for _, want := range []string{
		`-/+ work pool "` + e.pool("memory-intensive") + `" will be replaced`,
		`~ type: "kubernetes" → "process"`,
		"kubernetes → process", // the reason, in its comment line
		"1 to replace",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	doc := clitest.ParsePlan(t, e.diff(2, g, "-o", "json"))
	replaced := 0
	for _, c := range doc.Changes {
		switch {
		case c.Action == "replace":
			replaced++
			if c.Key.Name != e.pool("memory-intensive") || c.Reason == "" {
				t.Errorf("replace change: %+v", c)
			}
		case c.Action != "no-op" && c.Key.Namespace != e.pool("memory-intensive"):
			t.Errorf("unexpected change: %+v", c)
		}
	}
	if replaced != 1 || doc.Summary.Replace != 1 {
		t.Errorf("JSON plan: %d replace changes, summary %+v", replaced, doc.Summary)
	}

	// Without --allow-replace: exit 1 and not one write reaches the server.
	rec := e.Through(e.server, func() {
		code, stdout, stderr := e.Run(e.planArgs("sync", g, "--yes")...)
		if code != 1 || !strings.Contains(stderr, "--allow-replace") {
			t.Errorf("sync without --allow-replace: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
	})
	if w := rec.Writes(); len(w) > 0 {
		t.Errorf("sync without --allow-replace wrote: %v", w)
	}
	for _, p := range examplePools {
		if after := a.mustPool(e.pool(p)); after.ID != before[p].ID || after.Updated != before[p].Updated || after.Type != "kubernetes" {
			t.Errorf("pool %q changed without --allow-replace: %+v", p, after)
		}
	}

	out = e.sync(0, g, "--yes", "--allow-replace")
	if !strings.Contains(out, `work pool "`+e.pool("memory-intensive")+`": replaced`) {
		t.Errorf("sync --allow-replace:\n%s", out)
	}
	mem := a.mustPool(e.pool("memory-intensive"))
	if mem.Type != "process" || mem.ID == before["memory-intensive"].ID {
		t.Errorf("memory-intensive after the replace: type %q, id %s (was %s)", mem.Type, mem.ID, before["memory-intensive"].ID)
	}
	if mem.Description == nil || *mem.Description != "Flows that hold large data sets in memory" || deref(mem.ConcurrencyLimit) != 2 {
		t.Errorf("memory-intensive after the replace: description %v, concurrency_limit %v", mem.Description, deref(mem.ConcurrencyLimit))
	}
	if _, ok := mem.variableDefault("image"); ok {
		t.Errorf("the process pool kept a Kubernetes template: %s", compact(mem.BaseJobTemplate))
	}
	if q := a.queues(e.pool("memory-intensive")); len(q) != 1 || q["default"].Priority != 1 {
		t.Errorf("memory-intensive queues after the replace: %+v", q)
	}
	for _, p := range []string{"gbif-automations", "cpu-intensive", "gpu-tasks"} {
		if after := a.mustPool(e.pool(p)); after.ID != before[p].ID || after.Updated != before[p].Updated {
			t.Errorf("pool %q was touched by the replace of another pool", p)
		}
	}
	e.diff(0, g)
	e.sync(0, g, "--yes") // converged: nothing to do, no --allow-replace needed
}

// A queue the set created goes away with its pool when the pool is
// replaced; a queue of the same name someone creates later by hand in the
// new pool is not the set's, and --prune must not delete it.
func TestReplaceForgetsTheQueuesItDropped(t *testing.T) {
	e := newEnv(t, server(t), "replq")
	f := e.example("pools.yaml")
	e.sync(0, f, "--yes")

	raw, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	// gpu-tasks becomes a process pool with its default queue only: the
	// set's "urgent" queue is deleted with the old pool.
	block := e.poolBlock(string(raw), "gpu-tasks")
	process := "  - name: " + e.pool("gpu-tasks") + "\n    type: process\n    queues:\n      - name: default\n        priority: 1\n"
	g := e.Write("process.yaml", strings.Replace(string(raw), block, process, 1))
	e.sync(0, g, "--yes", "--allow-replace")
	if q := e.api().queues(e.pool("gpu-tasks")); len(q) != 1 {
		t.Fatalf("gpu-tasks queues after the replace: %v", keys(q))
	}

	// Someone adds an "urgent" queue by hand.
	e.server.CLI(e.T, "work-queue", "create", "urgent", "--pool", e.pool("gpu-tasks"))
	if out := e.diff(0, g, "--prune"); strings.Contains(out, `work queue "urgent"`) {
		t.Errorf("diff --prune plans to delete a queue made by hand after a replace:\n%s", out)
	}
	e.sync(0, g, "--yes", "--prune")
	if _, ok := e.api().queues(e.pool("gpu-tasks"))["urgent"]; !ok {
		t.Errorf("sync --prune deleted a queue created by hand")
	}
}
