package render

import (
	"fmt"
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/plan"
)

// ImpactCount says how many deployments target an object and which, and
// their active runs: `2 deployments (etl/nightly, etl/hourly); runs: 3
// scheduled, 1 pending, 0 running`.
func ImpactCount(im plan.Impact) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d deployment%s", im.Deployments, plural(im.Deployments))
	if len(im.Names) > 0 {
		names := strings.Join(im.Names, ", ")
		if more := im.Deployments - len(im.Names); more > 0 {
			names += fmt.Sprintf(" and %d more", more)
		}
		fmt.Fprintf(&b, " (%s)", names)
	}
	atLeast := ""
	if im.RunsAtLeast {
		atLeast = "at least "
	}
	fmt.Fprintf(&b, "; runs: %s%d scheduled, %d pending, %d running", atLeast, im.Runs.Scheduled, im.Runs.Pending, im.Runs.Running)
	return b.String()
}

// ImpactLines are what a risky change does to the work on its object, one
// sentence a line: who runs there, what happens to them, and whether sync
// refuses it.
func ImpactLines(im plan.Impact) []string {
	lines := []string{"runs here: " + ImpactCount(im), "then: " + im.Effect}
	switch {
	case im.Blocked:
		lines = append(lines, "blocked: sync refuses to strand these deployments; move them first, or rerun with --allow-orphaning")
	case im.Orphans:
		lines = append(lines, "allowed by --allow-orphaning")
	}
	return lines
}

// WarningLine is one warning of a change, as text shows it.
func WarningLine(w string) string { return "warning: " + w }
