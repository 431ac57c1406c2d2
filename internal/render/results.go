package render

import (
	"fmt"
	"strings"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/apply"
	"github.com/prefect-apply/prefect-apply/internal/plan"
)

var pastTense = map[plan.Action]string{
	plan.Create: "created", plan.Update: "updated", plan.Replace: "replaced", plan.Delete: "deleted",
}

func past(r apply.Result) string {
	if r.Implicit {
		return "created with its pool"
	}
	return pastTense[r.Action]
}

// ResultLine is one progress line of sync.
func ResultLine(r apply.Result, st Style) string {
	switch r.Status {
	case apply.Applied:
		return st.paint(green, fmt.Sprintf("%s: %s", Object(r.Key), past(r))) +
			st.paint(dim, fmt.Sprintf(" (%s)", r.Duration.Round(time.Millisecond)))
	case apply.Failed:
		return st.paint(red, fmt.Sprintf("%s: %s failed: %s", Object(r.Key), r.Action, r.Error))
	}
	return st.paint(yellow, fmt.Sprintf("%s: %s skipped: %s", Object(r.Key), r.Action, r.Error))
}

// ResultSummary counts results and lists what was not applied.
func ResultSummary(results []apply.Result) string {
	var applied, failed, skipped []string
	for _, r := range results {
		switch r.Status {
		case apply.Applied:
			applied = append(applied, Object(r.Key))
		case apply.Failed:
			failed = append(failed, Object(r.Key))
		default:
			skipped = append(skipped, Object(r.Key))
		}
	}
	line := fmt.Sprintf("Sync: %d applied, %d failed, %d skipped.", len(applied), len(failed), len(skipped))
	if len(failed)+len(skipped) == 0 {
		return line
	}
	var b strings.Builder
	b.WriteString(line)
	if len(failed) > 0 {
		b.WriteString("\nFailed:  " + strings.Join(failed, ", "))
	}
	if len(skipped) > 0 {
		b.WriteString("\nSkipped: " + strings.Join(skipped, ", "))
	}
	b.WriteString("\nNot everything was applied. Fix the cause and run sync again: applied changes are not repeated.")
	return b.String()
}

// UnmanagedSummary names the declared objects that sync left alone because
// the set does not own them, or "" when there are none.
func UnmanagedSummary(p *plan.Plan) string {
	var names []string
	for _, c := range p.Changes {
		if c.Action == plan.Unmanaged {
			names = append(names, Object(c.Key))
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("Left alone, not managed by set %q (sync --adopt takes them over): %s.", p.Set, strings.Join(names, ", "))
}
