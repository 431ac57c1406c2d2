package prefectsync

import (
	"fmt"
	"strings"
	"testing"
)

// The example syncs to exactly what it declares, diffs clean afterwards,
// and a second sync reads but writes nothing.
func TestSyncExampleThenNoWrites(t *testing.T) {
	e := newEnv(t, server(t), "sync")
	f := e.example("pools.yaml")

	out := e.diff(2, f)
	if !strings.Contains(out, "Plan: 9 to create, 0 to update, 0 to replace, 0 to delete.") {
		t.Errorf("first diff:\n%s", out)
	}
	for _, p := range examplePools {
		if _, ok := e.api().pool(e.pool(p)); ok {
			t.Fatalf("diff created pool %q", e.pool(p))
		}
	}

	out = e.sync(0, f, "--yes")
	if !strings.Contains(out, "Sync: 9 applied, 0 failed, 0 skipped.") {
		t.Errorf("sync:\n%s", out)
	}
	checkExample(t, e)

	out = e.diff(0, f)
	if strings.TrimSpace(out) != "No changes: the live state matches the file." {
		t.Errorf("diff after sync:\n%s", out)
	}

	// The inventory records what the set owns.
	inv, ok := e.api().variable("prefect-apply_" + e.set + "_0")
	if !ok {
		t.Fatalf("no inventory variable for set %q", e.set)
	}
	invUpdated := inv["updated"]
	for _, p := range examplePools {
		if !strings.Contains(compact(inv["value"]), `"`+e.pool(p)+`"`) {
			t.Errorf("the inventory lacks pool %q: %s", e.pool(p), compact(inv["value"]))
		}
	}
	before := map[string]livePool{}
	for _, p := range examplePools {
		before[p] = e.api().mustPool(e.pool(p))
	}

	// The second sync, through a recording proxy: reads only.
	var second string
	rec := e.Through(e.server, func() { second = e.sync(0, f, "--yes") })
	if !strings.Contains(second, "No changes: the live state matches the file.") {
		t.Errorf("second sync:\n%s", second)
	}
	if w := rec.Writes(); len(w) > 0 {
		t.Errorf("the second sync wrote: %v (all requests: %v)", w, rec.Requests())
	}
	t.Logf("second sync requests: %v", rec.Requests())
	for _, p := range examplePools {
		if after := e.api().mustPool(e.pool(p)); after.Updated != before[p].Updated {
			t.Errorf("pool %q was updated by the second sync (%s → %s)", p, before[p].Updated, after.Updated)
		}
	}
	if inv, _ := e.api().variable("prefect-apply_" + e.set + "_0"); inv["updated"] != invUpdated {
		t.Errorf("the inventory was rewritten by the second sync")
	}
	// Reading costs a constant number of requests, not one per object.
	if n := len(rec.Requests()); n > 6 {
		t.Errorf("the second sync sent %d requests: %v", n, rec.Requests())
	}
}

// The server moves a queue out of a priority another queue of its pool
// takes; the planner predicts the shift, so one sync converges.
func TestQueuePriorityShiftConvergesInOneSync(t *testing.T) {
	// The file's own set and pool name (no other test uses "prio"), without
	// --set or --skip-kubernetes: a file with no kubernetes section needs
	// no cluster. The auth string is one the open server does not ask for.
	e := newEnv(t, server(t), "prio")
	e.Vars["PREFECT_API_AUTH_STRING"] = "x:y"
	write := func(def, b, a int) string {
		return e.Write("prio.yaml", fmt.Sprintf(`set: prio
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
`, def, b, a))
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
