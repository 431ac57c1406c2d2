package prefectsync

import (
	"reflect"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
)

// One field changed in a copy of the file: diff names exactly that field
// (text and JSON) and exits 2, sync applies it, diff is clean again and the
// server holds the new value.
func TestOneFieldChange(t *testing.T) {
	e := newEnv(t, server(t), "change")
	e.sync(0, e.example("pools.yaml"), "--yes")

	urgent := "      - name: urgent\n        priority: 1\n        description: Short GPU jobs that should not wait behind long training runs\n"
	cases := []struct {
		name   string
		edits  []string
		header string // the text plan's line for the changed object
		field  string // the text plan's one field line
		json   string // the JSON plan's one change, as changed(doc) renders it
		md     string // when set, a line pair the Markdown plan must hold
		check  func(t *testing.T, a api)
	}{
		{
			name:   "queue description",
			edits:  []string{urgent, strings.Replace(urgent, "long training runs", "nightly training runs", 1)},
			header: `~ work queue "urgent" in pool "` + e.pool("gpu-tasks") + `" will be updated`,
			field:  `~ description: "Short GPU jobs that should not wait behind long training runs" → "Short GPU jobs that should not wait behind nightly training runs"`,
			json:   `update ` + e.pool("gpu-tasks") + `/urgent description "Short GPU jobs that should not wait behind long training runs"→"Short GPU jobs that should not wait behind nightly training runs"`,
			check: func(t *testing.T, a api) {
				q := a.queues(e.pool("gpu-tasks"))["urgent"]
				if q.Description == nil || !strings.HasSuffix(*q.Description, "nightly training runs") || q.Priority != 1 {
					t.Errorf("urgent queue after sync: %+v", q)
				}
			},
		},
		{
			name:   "pool concurrency limit",
			edits:  []string{"concurrencyLimit: 4", "concurrencyLimit: 6"},
			header: `~ work pool "` + e.pool("cpu-intensive") + `" will be updated`,
			field:  `~ concurrencyLimit: 4 → 6`,
			json:   `update ` + e.pool("cpu-intensive") + ` concurrencyLimit 4→6`,
			md:     "- concurrencyLimit: 4\n+ concurrencyLimit: 6\n",
			check: func(t *testing.T, a api) {
				if p := a.mustPool(e.pool("cpu-intensive")); !reflect.DeepEqual(p.ConcurrencyLimit, intp(6)) {
					t.Errorf("cpu-intensive concurrency_limit = %v", deref(p.ConcurrencyLimit))
				}
			},
		},
		{
			// memory-intensive takes its image from the &heavy anchor; an
			// image of its own overrides it for that pool alone.
			name:   "one pool's image",
			edits:  []string{"      <<: *heavy\n      resources:\n        requests: {cpu: \"1\", memory: 8Gi}", "      <<: *heavy\n      image: gbifnorway/prefect-automations:2.0\n      resources:\n        requests: {cpu: \"1\", memory: 8Gi}"},
			header: `~ work pool "` + e.pool("memory-intensive") + `" will be updated`,
			field:  `~ baseJobTemplate.variables.properties.image.default: "gbifnorway/prefect-automations:latest" → "gbifnorway/prefect-automations:2.0"`,
			json:   `update ` + e.pool("memory-intensive") + ` baseJobTemplate.variables.properties.image.default "gbifnorway/prefect-automations:latest"→"gbifnorway/prefect-automations:2.0"`,
			check: func(t *testing.T, a api) {
				if v, _ := a.mustPool(e.pool("memory-intensive")).variableDefault("image"); v != "gbifnorway/prefect-automations:2.0" {
					t.Errorf("memory-intensive image default = %v", v)
				}
				for _, other := range []string{"cpu-intensive", "gpu-tasks", "gbif-automations"} {
					if v, _ := a.mustPool(e.pool(other)).variableDefault("image"); v != image {
						t.Errorf("%s image default = %v, want it untouched", other, v)
					}
				}
			},
		},
		{
			name:   "queue paused",
			edits:  []string{"      - name: default\n        priority: 2\n", "      - name: default\n        priority: 2\n        paused: true\n"},
			header: `~ work queue "default" in pool "` + e.pool("gpu-tasks") + `" will be updated`,
			field:  `~ paused: false → true`,
			json:   `update ` + e.pool("gpu-tasks") + `/default paused false→true`,
			check: func(t *testing.T, a api) {
				q := a.queues(e.pool("gpu-tasks"))
				if !q["default"].IsPaused || q["urgent"].IsPaused || q["default"].Priority != 2 {
					t.Errorf("gpu-tasks queues after pausing default: %+v", q)
				}
			},
		},
	}
	var edits []string
	parent := e.T
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.T = t
			defer func() { e.T = parent }()
			// Each case keeps the earlier cases' edits, so that the only
			// difference with the live state is this case's field.
			f := e.example("pools.yaml", append(append([]string{}, edits...), tc.edits...)...)

			out := e.diff(2, f)
			if !strings.Contains(out, tc.header+"\n") {
				t.Errorf("the text plan lacks %q:\n%s", tc.header, out)
			}
			if got := fieldLines(out); len(got) != 1 || got[0] != tc.field {
				t.Errorf("text plan field lines = %q, want exactly %q\n%s", got, tc.field, out)
			}
			if !strings.Contains(out, "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete.") {
				t.Errorf("text plan summary:\n%s", out)
			}

			out = e.diff(2, f, "--output", "json")
			doc := clitest.ParsePlan(t, out)
			if got := changed(doc); len(got) != 1 || got[0] != tc.json {
				t.Errorf("JSON plan changes = %q, want exactly %q", got, tc.json)
			}
			if doc.Summary.Update != 1 || doc.Summary.Create+doc.Summary.Replace+doc.Summary.Delete != 0 || !doc.Summary.Changes || doc.Set != e.set {
				t.Errorf("JSON plan summary = %+v, set %q", doc.Summary, doc.Set)
			}

			if tc.md != "" {
				if md := e.diff(2, f, "-o", "markdown"); !strings.Contains(md, tc.md) {
					t.Errorf("the Markdown plan lacks %q:\n%s", tc.md, md)
				}
			}

			out = e.sync(0, f, "--yes")
			if !strings.Contains(out, "Sync: 1 applied, 0 failed, 0 skipped.") {
				t.Errorf("sync:\n%s", out)
			}
			e.diff(0, f)
			tc.check(t, e.api())
			edits = append(edits, tc.edits...)
		})
	}
}
