package plan

import (
	"fmt"
	"slices"

	"github.com/prefect-apply/prefect-apply/internal/jobtemplate"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// MaxImpactNames is how many deployments an Impact names; the rest are
// counted.
const MaxImpactNames = 10

// Impact is what a risky change does to the work that runs on its pool or
// queue: deleting or replacing it, pausing it, setting its concurrency
// limit to 0.
type Impact struct {
	// Deployments counts the deployments that target the object; Names
	// holds the first MaxImpactNames of them, "flow/deployment".
	Deployments int      `json:"deployments"`
	Names       []string `json:"names,omitempty"`
	// Runs counts their flow runs that are scheduled (Late included),
	// pending or running; RunsAtLeast says there were too many to count
	// them all.
	Runs        state.RunCounts `json:"runs"`
	RunsAtLeast bool            `json:"runsAtLeast,omitempty"`
	// Effect says what happens to them, in Prefect's terms.
	Effect string `json:"effect"`
	// Orphans marks a change that leaves the deployments without their
	// pool or queue; Blocked, one that sync refuses for that without
	// --allow-orphaning.
	Orphans bool `json:"orphans,omitempty"`
	Blocked bool `json:"blocked,omitempty"`
}

// What happens to the deployments and runs of a pool or queue, by change.
const (
	effectPoolDeleted  = "the deployments stay, without a work pool: no worker picks up their runs, which turn Late"
	effectPoolReplaced = "deleted and created again: the deployments lose the pool and are not attached to the new one; no worker picks up their runs, which turn Late"
	effectQueueDeleted = "the deployments stay, without their work queue: no worker picks up their runs, which turn Late"
	effectPaused       = "paused: workers get no runs from it; scheduled runs wait and turn Late until it is resumed"
	effectLimitZero    = "concurrency limit 0: no run starts; scheduled runs wait and turn Late"
)

// AssessOptions are the choices Assess applies.
type AssessOptions struct {
	// AllowOrphaning lets sync delete or replace a pool or queue that
	// deployments target (--allow-orphaning).
	AllowOrphaning bool
}

// PoolsAtRisk lists the live pools whose pool or queues the plan changes
// in place, replaces or deletes: those whose deployments Assess needs.
// Empty when the plan changes no existing pool or queue.
func (p *Plan) PoolsAtRisk() []string {
	var out []string
	for _, c := range p.Changes {
		if c.Key.System != state.Prefect || (c.Action != Update && c.Action != Replace && c.Action != Delete) {
			continue
		}
		pool := c.Key.Name
		if c.Key.Kind == state.KindWorkQueue {
			pool = c.Key.Namespace
		}
		out = append(out, pool)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Assess adds to each risky change of the plan what it does to the
// deployments that target its object and their runs, blocks the changes
// that would strand deployments (unless opts allows it), and warns, on a
// pool whose template changes, about each deployment's job variables that
// the new template would drop or refuse. It is pure: deps were read for
// PoolsAtRisk.
func Assess(p *Plan, deps *state.Dependents, opts AssessOptions) {
	gone := map[string]bool{} // pools deleted or replaced: their queues go with them
	for _, c := range p.Changes {
		if c.Key.Kind == state.KindWorkPool && (c.Action == Delete || c.Action == Replace) {
			gone[c.Key.Name] = true
		}
	}
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Key.System != state.Prefect {
			continue
		}
		pool, queue := c.Key.Name, ""
		if c.Key.Kind == state.KindWorkQueue {
			if gone[c.Key.Namespace] {
				continue
			}
			pool, queue = c.Key.Namespace, c.Key.Name
		}
		if effect, orphans := risk(*c); effect != "" {
			c.Impact = impactOn(deps, pool, queue, effect, orphans, opts)
		}
		if c.Key.Kind == state.KindWorkPool && c.Action == Update && c.Updates.Has(state.FieldBaseJobTemplate) && c.Pool != nil {
			c.Warnings = jobVariableWarnings(deps.OnPool(pool, ""), c.Pool.BaseJobTemplate)
		}
	}
}

// risk says what a change does to the runs of its object, and whether it
// strands its deployments; "" when it is not risky.
func risk(c Change) (string, bool) {
	switch {
	case c.Action == Delete && c.Key.Kind == state.KindWorkPool:
		return effectPoolDeleted, true
	case c.Action == Delete:
		return effectQueueDeleted, true
	case c.Action == Replace:
		return effectPoolReplaced, true
	case c.Action != Update:
		return "", false
	}
	paused, limit := desiredPauseAndLimit(c)
	switch {
	case c.Updates.Has(state.FieldPaused) && paused != nil && *paused:
		return effectPaused, false
	case c.Updates.Has(state.FieldConcurrencyLimit) && limit != nil && *limit == 0:
		return effectLimitZero, false
	}
	return "", false
}

func desiredPauseAndLimit(c Change) (*bool, *int) {
	switch {
	case c.Pool != nil:
		return c.Pool.Paused, c.Pool.ConcurrencyLimit
	case c.Queue != nil:
		return c.Queue.Paused, c.Queue.ConcurrencyLimit
	}
	return nil, nil
}

// impactOn is the Impact of a risky change on a pool or queue; nil when
// nothing runs there.
func impactOn(deps *state.Dependents, pool, queue, effect string, orphans bool, opts AssessOptions) *Impact {
	on := deps.OnPool(pool, queue)
	runs := deps.RunsOn(pool, queue)
	if len(on) == 0 && runs.Total() == 0 {
		return nil
	}
	im := &Impact{Deployments: len(on), Runs: runs, RunsAtLeast: deps.RunsPartial, Effect: effect,
		Orphans: orphans && len(on) > 0}
	im.Blocked = im.Orphans && !opts.AllowOrphaning
	for _, d := range on[:min(len(on), MaxImpactNames)] {
		im.Names = append(im.Names, d.Name)
	}
	return im
}

// jobVariableWarnings checks each deployment's job variables against the
// pool's new template.
func jobVariableWarnings(on []state.Deployment, template map[string]any) []string {
	var out []string
	for _, d := range on {
		for _, problem := range jobtemplate.CheckJobVariables(template, d.JobVariables) {
			out = append(out, fmt.Sprintf("deployment %q: %s", d.Name, problem))
		}
	}
	return out
}

// Blocked lists the changes sync refuses: those that would strand
// deployments without --allow-orphaning.
func (p *Plan) Blocked() []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Impact != nil && c.Impact.Blocked {
			out = append(out, c)
		}
	}
	return out
}

// Warnings lists every change's warnings, each prefixed with its object.
func (p *Plan) Warnings() []string {
	var out []string
	for _, c := range p.Changes {
		for _, w := range c.Warnings {
			out = append(out, c.Key.String()+": "+w)
		}
	}
	return out
}
