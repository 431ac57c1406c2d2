package reconcile

import (
	"context"

	"github.com/prefect-apply/prefect-apply/internal/apply"
)

// ApplyOptions are sync's choices for applying a plan.
type ApplyOptions struct {
	AllowReplace bool
	Concurrency  int
	// Progress is called as each change finishes.
	Progress func(apply.Result)
}

// Outcome is what applying a plan did.
type Outcome struct {
	Results []apply.Result
	// Recorded is the error of the inventory write after the changes
	// (nil when it succeeded): the changes in Results were made all the
	// same.
	Recorded error
}

// Failed reports whether a change was not applied, or the inventory
// could not be written after the changes: the set's record of what it
// owns is then out of date, which a pipeline must see.
func (o *Outcome) Failed() bool {
	for _, r := range o.Results {
		if r.Status != apply.Applied {
			return true
		}
	}
	return o.Recorded != nil
}

// Apply applies a plan as sync does. The set's inventory is written first,
// recording what is about to be created, so that an interrupted run leaves
// nothing created that the set does not know it owns; then the changes
// are applied in dependency order (a create answered 409 settled against
// what took the name); then the inventory is written again from the
// results: what was deleted leaves it. An error means nothing was changed.
// A plan with nothing to write only records ownership (what --adopt takes
// over, what --prune lets go of).
func Apply(ctx context.Context, p *Planned, opts ApplyOptions) (*Outcome, error) {
	if err := p.recordOwnership(ctx, nil); err != nil {
		return nil, err
	}
	if !p.Plan.Writes() {
		return &Outcome{}, nil
	}
	results := apply.Execute(ctx, p.Plan, apply.Targets{
		Prefect: settle(p.Client), Kubernetes: kubeTarget(p.Kube), SecretData: p.Desired.SecretData,
		AllowReplace: opts.AllowReplace, Concurrency: opts.Concurrency, Progress: opts.Progress,
		Overloads: p.overloads,
	})
	return &Outcome{Results: results, Recorded: p.recordOwnership(context.WithoutCancel(ctx), results)}, nil
}

// kubeTarget keeps a nil client a nil interface.
func kubeTarget(k KubeClient) apply.Kubernetes {
	if k == nil {
		return nil
	}
	return k
}

// overloads is what both servers have answered overloaded so far: the
// changes in flight adapt to it.
func (p *Planned) overloads() int64 {
	n := p.Client.Overloads()
	if p.Kube != nil {
		n += p.Kube.Overloads()
	}
	return n
}
