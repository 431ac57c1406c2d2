package prefectsync

import (
	"sort"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/apply"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/render"
	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
)

// diff --output json and --output markdown against the real server: before
// the first sync (everything to create), in sync, and with one change;
// sync --output json keeps stdout a single JSON document.
func TestDiffOutputFormats(t *testing.T) {
	e := newEnv(t, server(t), "output")
	f := e.example("pools.yaml")

	// Everything to create.
	doc := clitest.ParsePlan(t, e.diff(2, f, "--output", "json"))
	if doc.Version != 1 || doc.Set != e.set {
		t.Errorf("version %d, set %q", doc.Version, doc.Set)
	}
	s := doc.Summary
	if s.Create != 9 || s.Update+s.Replace+s.Delete+s.Orphan+s.NoOp+s.Unmanaged+s.Adopt != 0 || !s.Changes {
		t.Errorf("summary before the first sync: %+v", s)
	}
	var got []string
	implicit := 0
	for _, c := range doc.Changes {
		if c.Key.System != "prefect" || c.Action != "create" {
			t.Errorf("change %+v", c)
		}
		got = append(got, c.Key.Kind+" "+object(c.Change))
		if c.Implicit {
			implicit++
			if c.Key.Kind != "WorkQueue" || c.Key.Name != "default" {
				t.Errorf("implicit change %+v", c)
			}
		}
	}
	var want []string
	for _, p := range examplePools {
		want = append(want, "WorkPool "+e.pool(p))
		for q := range exampleWant()[p].queues {
			want = append(want, "WorkQueue "+e.pool(p)+"/"+q)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("JSON plan objects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if implicit != 4 {
		t.Errorf("%d implicit default queues, want 4", implicit)
	}
	// Pools come before their queues, queues of a pool by priority.
	pos := map[string]int{}
	for i, c := range doc.Changes {
		pos[c.Key.Kind+" "+object(c.Change)] = i
	}
	for _, p := range examplePools {
		if pos["WorkPool "+e.pool(p)] > pos["WorkQueue "+e.pool(p)+"/default"] {
			t.Errorf("pool %s comes after its default queue", p)
		}
	}
	if pos["WorkQueue "+e.pool("gpu-tasks")+"/urgent"] > pos["WorkQueue "+e.pool("gpu-tasks")+"/default"] {
		t.Error("gpu-tasks: urgent (priority 1) comes after default (priority 2)")
	}

	md := e.diff(2, f, "--output", "markdown")
	for _, w := range []string{
		"### prefect-apply plan for set `" + e.set + "`",
		"**9 to create, 0 to update, 0 to replace, 0 to delete.**",
		"| | Object | Change |\n|---|---|---|\n",
		"| `+` | work pool \"" + e.pool("gpu-tasks") + "\" | will be created |",
		"| `+` | work queue \"urgent\" in pool \"" + e.pool("gpu-tasks") + "\" | will be created |",
		"<details><summary>+ work pool \"" + e.pool("gpu-tasks") + "\" (4 fields)</summary>",
		"```diff\n+ type: \"kubernetes\"\n",
		"+ concurrencyLimit: 1\n",
	} {
		if !strings.Contains(md, w) {
			t.Errorf("markdown lacks %q:\n%s", w, md)
		}
	}
	if strings.Count(md, "<details>") != strings.Count(md, "</details>") || strings.Count(md, "```")%2 != 0 {
		t.Errorf("markdown blocks are not closed:\n%s", md)
	}
	if len(md) > 65535 {
		t.Errorf("markdown is %d bytes", len(md))
	}

	// sync -o json: one document, the plan and a result for every change
	// it applied, in the plan's order; progress elsewhere.
	code, stdout, stderr := e.Run(e.planArgs("sync", f, "--yes", "-o", "json")...)
	if code != 0 {
		t.Fatalf("sync -o json: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	synced := clitest.ParseSync(t, stdout)
	if synced.Summary.Create != 9 || synced.Refused != "" || synced.InventoryError != "" {
		t.Errorf("sync -o json: summary %+v, refused %q, inventoryError %q", synced.Summary, synced.Refused, synced.InventoryError)
	}
	if len(synced.Results) != len(synced.Changes) || synced.ResultSummary != (render.ResultSummaryJSON{Applied: 9}) {
		t.Fatalf("sync -o json: %d results for %d changes, %+v", len(synced.Results), len(synced.Changes), synced.ResultSummary)
	}
	for i, r := range synced.Results {
		c := synced.Changes[i]
		if r.Key != c.Key || r.Action != c.Action || r.Status != apply.Applied || r.Error != "" || r.Implicit != c.Implicit || r.DurationMs < 0 {
			t.Errorf("result %d: %+v, for change %s %s", i, r, c.Action, object(c.Change))
		}
	}
	if !strings.Contains(stderr, "Sync: 9 applied, 0 failed, 0 skipped.") || strings.Contains(stdout, "Sync:") {
		t.Errorf("sync -o json progress (stderr):\n%s", stderr)
	}

	// In sync.
	doc = clitest.ParsePlan(t, e.diff(0, f, "-o", "json"))
	if doc.Summary.NoOp != 9 || doc.Summary.Changes || len(changed(doc)) != 0 {
		t.Errorf("JSON plan in sync: %+v %v", doc.Summary, changed(doc))
	}
	md = e.diff(0, f, "-o", "markdown")
	if md != "### prefect-apply plan for set `"+e.set+"`\n\n**No changes**: the live state matches the file.\n" {
		t.Errorf("markdown in sync:\n%q", md)
	}

	// One change: a description with Markdown and HTML metacharacters.
	desc := "CPU-heavy flows | <b>bold</b> & `code`"
	g := e.example("changed.yaml", "description: CPU-heavy flows", "description: \""+desc+"\"")
	doc = clitest.ParsePlan(t, e.diff(2, g, "-o", "json"))
	var updates []plan.Change
	for _, c := range doc.Changes {
		if c.Action != "no-op" {
			updates = append(updates, c.Change)
		}
	}
	if len(updates) != 1 || updates[0].Action != "update" || updates[0].Key.Name != e.pool("cpu-intensive") || len(updates[0].Fields) != 1 ||
		updates[0].Fields[0].Path != "description" || updates[0].Fields[0].Old != "CPU-heavy flows" || updates[0].Fields[0].New != desc {
		t.Errorf("JSON changes: %+v", updates)
	}
	md = e.diff(2, g, "-o", "markdown")
	for _, w := range []string{
		"**0 to create, 1 to update, 0 to replace, 0 to delete.**",
		"| `~` | work pool \"" + e.pool("cpu-intensive") + "\" | will be updated |",
		"(1 field)</summary>",
		"- description: \"CPU-heavy flows\"\n+ description: \"" + desc + "\"\n",
	} {
		if !strings.Contains(md, w) {
			t.Errorf("markdown lacks %q:\n%s", w, md)
		}
	}
	if n := strings.Count(md, "\n| `"); n != 1 {
		t.Errorf("markdown has %d table rows, want 1:\n%s", n, md)
	}
	e.sync(0, g, "--yes")
	if p := e.api().mustPool(e.pool("cpu-intensive")); p.Description == nil || *p.Description != desc {
		t.Errorf("description after sync: %v", p.Description)
	}
	e.diff(0, g)
}
