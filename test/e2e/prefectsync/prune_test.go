package prefectsync

import (
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
)

// sync --prune deletes what the set created and the file no longer
// declares, and nothing else: not a pool made with the prefect CLI (even
// when the file once declared it, even with --allow-empty), not another
// set's pool, never a pool's default queue; emptying the set needs
// --allow-empty.
func TestPruneOwnsOnlyWhatItCreated(t *testing.T) {
	e := newEnv(t, server(t), "prune")
	a := e.api()
	hand := e.pool("made-by-hand")
	other := e.pool("other-set")

	// Another set's pool, on the same server.
	o := newEnv(t, e.server, "prune-other")
	o.sync(0, o.Write("other.yaml", "set: other\npools:\n  - name: "+other+"\n    type: process\n"), "--yes")

	// A pool made by hand with the official CLI, then declared in the file:
	// it is reported as not managed and left alone.
	e.server.CLI(e.T, "work-pool", "create", hand, "--type", "process")
	handBefore := a.mustPool(hand)
	declared := e.example("declared.yaml", "\npools:\n", "\npools:\n  - name: "+hand+"\n    type: process\n    description: taken over by mistake\n")
	out := e.sync(0, declared, "--yes")
	if !strings.Contains(out, `! work pool "`+hand+`" exists and differs from the file, not managed by set "`+e.set+`"`) {
		t.Errorf("sync of a file declaring the hand-made pool:\n%s", out)
	}
	if after := a.mustPool(hand); after.Updated != handBefore.Updated || after.Description != nil && *after.Description != "" {
		t.Errorf("sync wrote to the hand-made pool: %+v", after)
	}
	checkExample(t, e)

	// The file without memory-intensive and without gpu-tasks' "urgent".
	raw, err := os.ReadFile(e.example("pools.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(raw), e.poolBlock(string(raw), "memory-intensive"), "", 1)
	urgent := "      - name: urgent\n        priority: 1\n        description: Short GPU jobs that should not wait behind long training runs\n"
	if !strings.Contains(s, urgent) {
		t.Fatal("the example has no urgent queue")
	}
	g := e.Write("smaller.yaml", strings.Replace(s, urgent, "", 1))
	memOrphan := `? work pool "` + e.pool("memory-intensive") + `" is no longer in the file`
	urgentOrphan := `? work queue "urgent" in pool "` + e.pool("gpu-tasks") + `" is no longer in the file`

	// Without --prune the two are orphans: reported, kept, and not counted
	// as changes (diff exits 0, sync writes nothing).
	out = e.diff(0, g)
	for _, want := range []string{memOrphan, urgentOrphan, "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete. 2 no longer in the file (kept; --prune deletes them)."} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, hand) || strings.Contains(out, other) {
		t.Errorf("diff mentions a pool the set does not own:\n%s", out)
	}
	doc := clitest.ParsePlan(t, e.diff(0, g, "-o", "json"))
	if doc.Summary.Orphan != 2 || doc.Summary.Changes {
		t.Errorf("JSON summary without --prune: %+v", doc.Summary)
	}
	rec := e.Through(e.server, func() { e.sync(0, g, "--yes") })
	if w := rec.Writes(); len(w) > 0 {
		t.Errorf("sync without --prune wrote: %v", w)
	}
	if _, ok := a.pool(e.pool("memory-intensive")); !ok {
		t.Fatal("sync without --prune deleted memory-intensive")
	}

	// With --prune they are deletions.
	out = e.diff(2, g, "--prune")
	for _, want := range []string{
		`- work pool "` + e.pool("memory-intensive") + `" will be deleted`,
		`- work queue "urgent" in pool "` + e.pool("gpu-tasks") + `" will be deleted`,
		"Plan: 0 to create, 0 to update, 0 to replace, 2 to delete.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff --prune lacks %q:\n%s", want, out)
		}
	}
	out = e.sync(0, g, "--yes", "--prune")
	for _, want := range []string{
		`work pool "` + e.pool("memory-intensive") + `": deleted`,
		`work queue "urgent" in pool "` + e.pool("gpu-tasks") + `": deleted`,
		"Sync: 2 applied, 0 failed, 0 skipped.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("sync --prune lacks %q:\n%s", want, out)
		}
	}
	if _, ok := a.pool(e.pool("memory-intensive")); ok {
		t.Error("memory-intensive survived sync --prune")
	}
	if q := a.queues(e.pool("gpu-tasks")); len(q) != 1 || q["default"].Name != "default" {
		t.Errorf("gpu-tasks queues after the prune: %v", keys(q))
	}
	if after := a.mustPool(hand); after.ID != handBefore.ID {
		t.Error("the hand-made pool was recreated")
	}
	e.diff(0, g, "--prune")

	// A declared default queue that leaves the file is never deleted.
	defaultQ := "      - name: default\n        priority: 1\n        description: Everything that needs no special resources\n"
	h := e.Write("nodefault.yaml", strings.Replace(string(mustRead(t, g)), defaultQ, "      - name: batch\n        priority: 2\n", 1))
	out = e.diff(2, h, "--prune")
	if strings.Contains(out, `work queue "default"`) || !strings.Contains(out, "Plan: 1 to create, 0 to update, 0 to replace, 0 to delete.") {
		t.Errorf("diff --prune of a pool whose default queue left the file:\n%s", out)
	}
	e.sync(0, h, "--yes", "--prune")
	if q := a.queues(e.pool("gbif-automations")); len(q) != 2 || q["default"].ID == "" || q["batch"].Priority != 2 {
		t.Errorf("gbif-automations queues: %+v", q)
	}

	// Pruning everything the set owns is refused without --allow-empty,
	// before anything is written.
	empty := e.Write("empty.yaml", "set: gbif\npools: []\n")
	rec = e.Through(e.server, func() {
		code, stdout, stderr := e.Run(e.planArgs("sync", empty, "--yes", "--prune")...)
		if code != 1 || !strings.Contains(stderr, "--allow-empty") {
			t.Errorf("emptying the set without --allow-empty: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
	})
	if w := rec.Writes(); len(w) > 0 {
		t.Errorf("the refused prune wrote: %v", w)
	}
	// diff refuses the same plan (it cannot be previewed without the flag).
	if code, _, stderr := e.Run(e.planArgs("diff", empty, "--prune")...); code != 1 || !strings.Contains(stderr, "--allow-empty") {
		t.Errorf("diff --prune of an empty file: exit %d\n%s", code, stderr)
	}
	for _, p := range []string{"gbif-automations", "cpu-intensive", "gpu-tasks"} {
		a.mustPool(e.pool(p))
	}

	out = e.sync(0, empty, "--yes", "--prune", "--allow-empty")
	if !strings.Contains(out, "Sync: 3 applied, 0 failed, 0 skipped.") {
		t.Errorf("sync --prune --allow-empty:\n%s", out)
	}
	for _, p := range []string{"gbif-automations", "cpu-intensive", "gpu-tasks"} {
		if _, ok := a.pool(e.pool(p)); ok {
			t.Errorf("pool %q survived emptying the set", e.pool(p))
		}
	}
	if after := a.mustPool(hand); after.ID != handBefore.ID {
		t.Error("the hand-made pool was recreated")
	}
	a.mustPool(other)
	// Of this test's pools, only those the set never owned are left.
	var left []string
	for name := range a.poolNames() {
		if strings.HasPrefix(name, e.prefix) {
			left = append(left, name)
		}
	}
	sort.Strings(left)
	want := []string{hand, other}
	sort.Strings(want)
	if !reflect.DeepEqual(left, want) {
		t.Errorf("pools after emptying the set: %q, want %q", left, want)
	}
	if v, ok := a.variable("prefect-apply_" + e.set + "_0"); ok {
		t.Errorf("the emptied set's inventory is still there: %s", compact(v))
	}
	if _, ok := a.variable("prefect-apply_" + o.set + "_0"); !ok {
		t.Error("the other set's inventory is gone")
	}
	out = e.diff(0, empty, "--prune", "--allow-empty")
	if strings.TrimSpace(out) != "No changes: the live state matches the file." {
		t.Errorf("diff after emptying:\n%s", out)
	}
}
