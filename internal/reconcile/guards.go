package reconcile

import (
	"fmt"
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/render"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// The refusals of a computed plan, as diff and sync state them: each says
// which objects and what the command does (what) about them.

// Replacing says what a plan replaces that needs --allow-replace (not
// objects already being deleted), for the refusal without it; "" when
// nothing.
func Replacing(p *plan.Plan) string {
	pools, objects := 0, 0
	for _, c := range p.Changes {
		if c.Action != plan.Replace || c.Terminating {
			continue
		}
		if c.Key.System == state.Kubernetes {
			objects++
		} else {
			pools++
		}
	}
	var parts []string
	if pools > 0 {
		parts = append(parts, fmt.Sprintf("%d work pool%s (a type change deletes and recreates the pool and its queues)", pools, plural(pools)))
	}
	if objects > 0 {
		parts = append(parts, fmt.Sprintf("%d Kubernetes object%s (fields the server does not change in place: deleted and created again)", objects, plural(objects)))
	}
	return strings.Join(parts, " and ")
}

// Refused is the error of a plan with objects the API server refused in a
// dry run, each named with the server's reason; nil when there are none.
// what says what it means for this command.
func Refused(p *plan.Plan, what string) error {
	probs := p.Problems()
	if len(probs) == 0 {
		return nil
	}
	lines := make([]string, 0, len(probs))
	for _, c := range probs {
		lines = append(lines, render.Object(c.Key)+": "+c.Problem)
	}
	return fmt.Errorf("the API server refuses %d object%s in a dry run; %s: fix the file\n  %s",
		len(probs), plural(len(probs)), what, strings.Join(lines, "\n  "))
}

// Blocked is the error of a plan that would strand deployments (their
// pool or queue deleted or replaced) without --allow-orphaning; nil when
// it would not. what says what it means for this command.
func Blocked(p *plan.Plan, what string) error {
	changes := p.Blocked()
	if len(changes) == 0 {
		return nil
	}
	lines := make([]string, 0, len(changes))
	for _, c := range changes {
		lines = append(lines, render.Object(c.Key)+": "+render.ImpactCount(*c.Impact))
	}
	return fmt.Errorf("the plan %s %d object%s that deployments target; %s: no worker would pick up their runs. Move the deployments first, or rerun with --allow-orphaning\n  %s",
		"deletes or replaces", len(changes), plural(len(changes)), what, strings.Join(lines, "\n  "))
}

// Strict is the error of --strict on a plan with warnings; nil without
// warnings.
func Strict(p *plan.Plan, what string) error {
	warnings := p.Warnings()
	if len(warnings) == 0 {
		return nil
	}
	return fmt.Errorf("--strict: the plan has %d warning%s; %s\n  %s", len(warnings), plural(len(warnings)), what, strings.Join(warnings, "\n  "))
}
