package render

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// Markdown lists the deployments affected and the warnings before the
// table, names at most MaxImpactNames deployments ("and N more") and at
// most 20 warnings, with the rest counted.
func TestMarkdownImpactFirstAndBounded(t *testing.T) {
	var names []string
	for i := range plan.MaxImpactNames {
		names = append(names, fmt.Sprintf("etl/job-%02d", i))
	}
	var warnings []string
	for i := range 25 {
		warnings = append(warnings, fmt.Sprintf(`deployment "etl/job-%02d": variable "gpu": the template no longer declares it, so workers drop it`, i))
	}
	p := &plan.Plan{Set: "team", Changes: []plan.Change{
		{Key: state.PoolKey("gpu"), Action: plan.Delete, Impact: &plan.Impact{Deployments: 14, Names: names,
			Runs: state.RunCounts{Scheduled: 3}, Effect: "the deployments stay", Orphans: true, Blocked: true}},
		{Key: state.PoolKey("cpu"), Action: plan.Update, Warnings: warnings,
			Fields: []plan.FieldChange{{Path: "baseJobTemplate.variables.properties.image.default", Old: "x:1", New: "x:2", HasOld: true, HasNew: true}}},
	}}
	var b bytes.Buffer
	if err := Markdown(&b, p); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	affected, warned, table := strings.Index(md, "#### Deployments affected"), strings.Index(md, "#### Warnings"), strings.Index(md, "| | Object | Change |")
	if affected < 0 || warned < affected || table < warned {
		t.Fatalf("sections out of order:\n%s", md)
	}
	for _, want := range []string{"**blocked**", "etl/job-09 and 4 more", "3 scheduled", "`--allow-orphaning`", "- and 5 more warnings: run `prefect-apply diff` for all of them"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if n := strings.Count(md, `variable "gpu"`); n != 20 {
		t.Errorf("%d warnings listed, want 20", n)
	}
}
