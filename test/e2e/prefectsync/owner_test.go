package prefectsync

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
)

// The audit's scenario: set A syncs the example; set B exports the pools
// and adopts them. Ownership must stay exclusive, as it is for Kubernetes
// objects: B's diff names A as the owner, B's --adopt takes the pools and
// queues out of A's inventory, and A's --prune of a pool B now owns does
// not delete it. Two inventories listing the same pools (as an adopt before
// the fix left them) are not pruned by either set: the set that lets a
// pool go drops it from its own inventory, and the other keeps it.
func TestOwnershipStaysExclusive(t *testing.T) {
	a := newEnv(t, server(t), "owner")
	b := newEnv(t, a.server, "owner-new")
	api := a.api()
	mem := a.pool("memory-intensive")
	aInv, bInv := "prefect-apply_"+a.set+"_0", "prefect-apply_"+b.set+"_0"

	f := a.example("pools.yaml")
	a.sync(0, f, "--yes")
	before, ok := api.variable(aInv)
	if !ok {
		t.Fatalf("no inventory %s after the first sync", aInv)
	}

	// export --set names the pools another set owns.
	args := []string{"export", "--set", b.set, "-o", b.Dir + "/exp.yaml"}
	for _, p := range examplePools {
		args = append(args, "--pool", a.pool(p))
	}
	code, _, stderr := b.Run(args...)
	if code != 0 {
		t.Fatalf("export: exit %d\n%s", code, stderr)
	}
	for _, p := range examplePools {
		want := `Warning: work pool "` + a.pool(p) + `" is managed by set "` + a.set + `": sync --adopt with this file moves it to set "` + b.set + `"`
		if !strings.Contains(stderr, want) {
			t.Errorf("export does not warn %q:\n%s", want, stderr)
		}
	}
	exp := b.Dir + "/exp.yaml"

	// B's diff names A as the owner, of pools and queues alike.
	out := b.diff(0, exp)
	for _, want := range []string{
		`! work pool "` + mem + `" exists, managed by set "` + a.set + `", not by set "` + b.set + `"; --adopt takes it over`,
		`! work queue "default" in pool "` + mem + `" exists, managed by set "` + a.set + `", not by set "` + b.set + `"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	doc := clitest.ParsePlan(t, b.diff(0, exp, "-o", "json"))
	if doc.Summary.Unmanaged == 0 || doc.Summary.Changes {
		t.Errorf("JSON summary: %+v", doc.Summary)
	}

	// --adopt says it moves them, and does: A's inventory no longer lists
	// them (it owned nothing else, so it is gone); B's does.
	out = b.diff(2, exp, "--adopt")
	if want := `# managed by set "` + a.set + `" until now: applying moves it to set "` + b.set + `", and set "` + a.set + `" no longer manages it`; !strings.Contains(out, want) {
		t.Errorf("diff --adopt lacks %q:\n%s", want, out)
	}
	b.sync(0, exp, "--adopt", "--yes")
	if v, ok := api.variable(aInv); ok {
		t.Errorf("set %s still lists what set %s took over: %s", a.set, b.set, compact(v["value"]))
	}
	after, ok := api.variable(bInv)
	if !ok || !strings.Contains(compact(after["value"]), `"`+mem+`"`) {
		t.Fatalf("set %s's inventory after the adopt: %v", b.set, after)
	}
	if out := b.diff(0, exp); !strings.Contains(out, "No changes") {
		t.Errorf("B's diff after the adopt:\n%s", out)
	}
	if out := a.diff(0, f); !strings.Contains(out, `! work pool "`+mem+`" exists, managed by set "`+b.set+`", not by set "`+a.set+`"`) {
		t.Errorf("A's diff after the adopt:\n%s", out)
	}

	// A's file without memory-intensive: its --prune has nothing of A's to
	// delete, and B's pool survives.
	raw, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	g := a.Write("smaller.yaml", strings.Replace(string(raw), a.poolBlock(string(raw), "memory-intensive"), "", 1))
	a.sync(0, g, "--prune", "--yes")
	api.mustPool(mem)

	// Both inventories list every pool and queue, as an adopt before the
	// fix left them.
	if st := a.server.Request(t, http.MethodPost, "/variables/", map[string]any{"name": aInv, "value": before["value"], "tags": before["tags"]}, nil); st != http.StatusCreated {
		t.Fatalf("restoring %s: %d", aInv, st)
	}
	memBefore := api.mustPool(mem)
	out = a.diff(2, g, "--prune")
	for _, want := range []string{
		`? work pool "` + mem + `" is no longer in the file`,
		`# kept, even with --prune: set "` + b.set + `" manages it too; applying drops it from set "` + a.set + `"'s inventory and leaves it to set "` + b.set + `"`,
		`# set "` + b.set + `" manages it too (both inventories list it): sync --adopt takes it from set "` + b.set + `"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("A's diff --prune lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "will be deleted") {
		t.Errorf("A's --prune plans a deletion of what B lists:\n%s", out)
	}
	rec := a.Through(a.server, func() { a.sync(0, g, "--prune", "--yes") })
	for _, w := range rec.Writes() {
		if !strings.Contains(w, "/variables/") {
			t.Errorf("sync --prune wrote %s", w)
		}
		if strings.Contains(w, url.PathEscape(bInv)) {
			t.Errorf("A's sync --prune wrote B's inventory: %s", w)
		}
	}
	if p := api.mustPool(mem); p.ID != memBefore.ID {
		t.Errorf("memory-intensive was recreated")
	}
	if q := api.queues(mem); len(q) == 0 {
		t.Errorf("memory-intensive lost its queues")
	}
	if v, _ := api.variable(aInv); strings.Contains(compact(v["value"]), `"`+mem+`"`) {
		t.Errorf("A still lists memory-intensive after letting it go: %s", compact(v["value"]))
	}
	if v, _ := api.variable(bInv); compact(v["value"]) != compact(after["value"]) {
		t.Errorf("B's inventory changed: %s, was %s", compact(v["value"]), compact(after["value"]))
	}
	a.diff(0, g, "--prune")
	// B still has memory-intensive (nothing to create) and is its only
	// owner; the pools both still declare are noted as shared.
	if out := b.diff(0, exp); strings.Contains(out, mem) || !strings.Contains(out, "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete.") {
		t.Errorf("B's diff after A's prune:\n%s", out)
	}
}
