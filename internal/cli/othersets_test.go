package cli

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/inventory"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

const gbifPools = `pools:
  - name: cpu
    type: process
    queues:
      - name: batch
        priority: 2
  - name: mem
    type: process
`

// keysOf reads a set's inventory.
func (w *memWorld) keysOf(set string) []state.Key {
	w.t.Helper()
	inv, err := inventory.Load(context.Background(), w.prefect, set)
	if err != nil {
		w.t.Fatal(err)
	}
	return inv.Keys()
}

// Ownership of pools and queues is exclusive, as it is for Kubernetes
// objects: another set's are shown as its own, --adopt moves them (out of
// its inventory), and what two inventories list (written before this was
// so) is never deleted by one set's --prune, which lets go of it instead.
func TestOwnershipMovesBetweenSets(t *testing.T) {
	w := newMemWorld(t)
	gbif := w.write("gbif.yaml", "set: gbif\n"+gbifPools)
	team := w.write("team.yaml", "set: newteam\n"+gbifPools)
	w.mustRun(0, "sync", "-f", gbif, "--yes")
	owned := []state.Key{state.PoolKey("cpu"), state.PoolKey("mem"), state.QueueKey("cpu", "batch")}

	out, _ := w.mustRun(0, "diff", "-f", team)
	for _, want := range []string{
		`! work pool "cpu" exists, managed by set "gbif", not by set "newteam"; --adopt takes it over`,
		`! work queue "batch" in pool "cpu" exists, managed by set "gbif", not by set "newteam"; --adopt takes it over`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}

	out, _ = w.mustRun(2, "diff", "-f", team, "--adopt")
	for _, want := range []string{
		`= work pool "mem" exists and matches the file; set "newteam" takes it over`,
		`    # managed by set "gbif" until now: applying moves it to set "newteam", and set "gbif" no longer manages it`,
		"3 to take over (--adopt).",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff --adopt lacks %q:\n%s", want, out)
		}
	}
	if out, _ := w.mustRun(2, "diff", "-f", team, "--adopt", "-o", "markdown"); !strings.Contains(out,
		`| work pool "mem" | exists and matches the file; set "newteam" takes it over; managed by set "gbif" until now: applying moves it to set "newteam", and set "gbif" no longer manages it |`) {
		t.Errorf("markdown diff --adopt:\n%s", out)
	}
	w.mustRun(0, "sync", "-f", team, "--adopt", "--yes")
	if got := w.keysOf("newteam"); !reflect.DeepEqual(got, owned) {
		t.Errorf("newteam owns %v, want %v", got, owned)
	}
	if got := w.keysOf("gbif"); len(got) != 0 {
		t.Errorf("gbif still lists %v after newteam took it all", got)
	}
	if out, _ := w.mustRun(0, "diff", "-f", team); !strings.Contains(out, "No changes") {
		t.Errorf("newteam's diff after the adopt:\n%s", out)
	}
	out, _ = w.mustRun(0, "diff", "-f", gbif)
	if !strings.Contains(out, `! work pool "mem" exists, managed by set "newteam", not by set "gbif"`) {
		t.Errorf("gbif's diff after the adopt:\n%s", out)
	}

	// Both inventories list everything, as an adopt before this fix left
	// them. gbif drops mem from its file and prunes: mem stays, and gbif
	// lets go of it.
	inv := inventory.New("gbif")
	inv.Add(owned...)
	if err := inv.Save(context.Background(), w.prefect); err != nil {
		t.Fatal(err)
	}
	smaller := w.write("smaller.yaml", "set: gbif\n"+strings.TrimSuffix(gbifPools, "  - name: mem\n    type: process\n"))
	out, _ = w.mustRun(0, "diff", "-f", smaller)
	for _, want := range []string{
		`? work pool "mem" is no longer in the file`,
		`    # kept, even with --prune: set "newteam" manages it too; --prune drops it from set "gbif"'s inventory and leaves it to set "newteam"`,
		`! work pool "cpu" exists and matches the file`,
		`    # set "newteam" manages it too (both inventories list it): sync --adopt takes it from set "newteam", so that set "gbif" alone manages it`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff of the smaller file lacks %q:\n%s", want, out)
		}
	}
	w.prefect.writes = nil
	out, _ = w.mustRun(0, "sync", "-f", smaller, "--prune", "--yes")
	if !strings.Contains(out, `# kept, even with --prune: set "newteam" manages it too; applying drops it from set "gbif"'s inventory and leaves it to set "newteam"`) {
		t.Errorf("sync --prune:\n%s", out)
	}
	if len(w.prefect.writes) != 0 || w.prefect.pools["mem"] == nil {
		t.Errorf("sync --prune wrote %v; mem exists: %v", w.prefect.writes, w.prefect.pools["mem"] != nil)
	}
	if got, want := w.keysOf("gbif"), []state.Key{state.PoolKey("cpu"), state.QueueKey("cpu", "batch")}; !reflect.DeepEqual(got, want) {
		t.Errorf("gbif owns %v after letting go of mem, want %v", got, want)
	}
	if got := w.keysOf("newteam"); !reflect.DeepEqual(got, owned) {
		t.Errorf("newteam owns %v, want %v", got, owned)
	}
	w.mustRun(0, "diff", "-f", smaller, "--prune")

	// --adopt makes what both list gbif's alone.
	w.mustRun(0, "sync", "-f", smaller, "--adopt", "--yes")
	if got := w.keysOf("newteam"); !reflect.DeepEqual(got, []state.Key{state.PoolKey("mem")}) {
		t.Errorf("newteam owns %v after gbif took cpu back, want mem alone", got)
	}
	if out, _ := w.mustRun(0, "diff", "-f", smaller, "--prune"); !strings.Contains(out, "No changes") {
		t.Errorf("gbif's diff after taking cpu back:\n%s", out)
	}
}

// export names the pools another set manages.
func TestExportWarnsAboutAnotherSetsPools(t *testing.T) {
	w := newMemWorld(t)
	w.mustRun(0, "sync", "-f", w.write("gbif.yaml", "set: gbif\n"+gbifPools), "--yes")
	_, errOut := w.mustRun(0, "export", "--set", "newteam", "-o", w.dir+"/exp.yaml")
	want := `Warning: work pool "cpu" is managed by set "gbif": sync --adopt with this file moves it to set "newteam", and set "gbif" no longer manages it; to leave it with set "gbif", take it out of the file (or export without it: --pool)`
	if !strings.Contains(errOut, want) || !strings.Contains(errOut, `work pool "mem" is managed by set "gbif"`) {
		t.Errorf("export stderr lacks %q:\n%s", want, errOut)
	}
	if _, errOut := w.mustRun(0, "export", "--set", "gbif", "-o", w.dir+"/own.yaml"); strings.Contains(errOut, "managed by") {
		t.Errorf("export of the set's own pools warns:\n%s", errOut)
	}
}
