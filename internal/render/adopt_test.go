package render

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

func TestUnmanagedAndAdopted(t *testing.T) {
	unmanaged := plan.Plan{Version: 1, Set: "gbif", Changes: []plan.Change{
		{Key: state.PoolKey("gpu"), Action: plan.Unmanaged, Unowned: true,
			Reason: `exists, not managed by set "gbif"; --adopt takes it over`},
		{Key: state.QueueKey("gpu", "default"), Action: plan.Unmanaged, Unowned: true,
			Reason: `exists and differs from the file, not managed by set "gbif"; --adopt takes it over and applies the differences`,
			Fields: []plan.FieldChange{{Path: "priority", Old: 2, New: 1, HasOld: true, HasNew: true}}},
	}}
	adopted := plan.Plan{Version: 1, Set: "gbif", Changes: []plan.Change{
		{Key: state.PoolKey("gpu"), Action: plan.NoOp, Unowned: true},
		{Key: state.QueueKey("gpu", "default"), Action: plan.Update, Unowned: true,
			Fields: []plan.FieldChange{{Path: "priority", Old: 2, New: 1, HasOld: true, HasNew: true}}},
	}}
	tests := map[string]struct {
		p    *plan.Plan
		text []string
		md   []string
		json map[string]any
	}{
		"unmanaged": {
			p: &unmanaged,
			text: []string{
				`! work pool "gpu" exists, not managed by set "gbif"; --adopt takes it over`,
				`! work queue "default" in pool "gpu" exists and differs from the file`,
				"~ priority: 2 → 1",
				"2 not managed by this set (left alone; --adopt takes them over).",
			},
			md:   []string{"| `!` | work pool \"gpu\" |", "--adopt takes it over |", "<details><summary>! work queue"},
			json: map[string]any{"unmanaged": 2.0, "adopt": 0.0, "changes": true},
		},
		"adopted": {
			p: &adopted,
			text: []string{
				`= work pool "gpu" exists and matches the file; set "gbif" takes it over`,
				`~ work queue "default" in pool "gpu" will be updated`,
				"applying takes it over",
				"2 to take over (--adopt).",
			},
			md:   []string{"| `=` |", "takes it over"},
			json: map[string]any{"unmanaged": 0.0, "adopt": 2.0, "changes": true},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var text, md, js bytes.Buffer
			if err := Text(&text, tc.p, Style{}); err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.text {
				if !strings.Contains(text.String(), want) {
					t.Errorf("text lacks %q:\n%s", want, text.String())
				}
			}
			if err := Markdown(&md, tc.p); err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.md {
				if !strings.Contains(md.String(), want) {
					t.Errorf("markdown lacks %q:\n%s", want, md.String())
				}
			}
			if err := JSON(&js, tc.p); err != nil {
				t.Fatal(err)
			}
			var doc struct{ Summary map[string]any }
			if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.json {
				if doc.Summary[k] != v {
					t.Errorf("summary.%s = %v, want %v", k, doc.Summary[k], v)
				}
			}
		})
	}
	if got := UnmanagedSummary(&unmanaged); !strings.Contains(got, `work pool "gpu", work queue "default" in pool "gpu"`) || !strings.Contains(got, "--adopt") {
		t.Errorf("UnmanagedSummary = %q", got)
	}
	if got := UnmanagedSummary(&adopted); got != "" {
		t.Errorf("UnmanagedSummary of an adopting plan = %q", got)
	}
}
