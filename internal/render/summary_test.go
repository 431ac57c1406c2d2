package render

import (
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/plan"
)

// Orphans that --prune deletes and orphans it keeps are counted apart, so
// that a plan made with --prune does not promise a deletion it will not do.
func TestSummaryLineOrphans(t *testing.T) {
	for _, tc := range []struct {
		s    plan.Summary
		want string
	}{
		{plan.Summary{Orphan: 2}, "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete. 2 no longer in the file (kept; --prune deletes them)."},
		{plan.Summary{Delete: 1, Orphan: 1, Kept: 1}, "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete. 1 no longer in the file and kept even with --prune (each says why)."},
		{plan.Summary{Orphan: 3, Kept: 1}, "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete. 2 no longer in the file (kept; --prune deletes them). 1 no longer in the file and kept even with --prune (each says why)."},
	} {
		if got := SummaryLine(tc.s); got != tc.want {
			t.Errorf("SummaryLine(%+v) =\n  %s\nwant\n  %s", tc.s, got, tc.want)
		}
	}
}
