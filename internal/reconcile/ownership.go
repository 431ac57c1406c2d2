package reconcile

import (
	"context"
	"fmt"
	"slices"

	"github.com/prefect-apply/prefect-apply/internal/apply"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// recordOwnership adds the declared Prefect objects to the inventory,
// except those that exist unmanaged (taken over only with --adopt), and
// removes what was deleted and what the set lets go of (an orphan other
// sets manage too, under --prune). Before applying (results nil) it
// records what is about to be created, so an interrupted run still owns
// it. A pool or queue adopted from another set leaves that set's
// inventory, written after this set's, so that it is never owned by none.
func (p *Planned) recordOwnership(ctx context.Context, results []apply.Result) error {
	inv := p.Inventory
	inv.Kubernetes, inv.Namespaces = p.mayOwnKubernetes(results)
	// A deleted pool takes its queues with it, and a replaced one is new:
	// forget what they held before recording what the file declares.
	for _, r := range results {
		if r.Status == apply.Applied && (r.Action == plan.Delete || r.Action == plan.Replace) {
			inv.Remove(r.Key)
		}
	}
	unmanaged := map[state.Key]bool{}
	moved := map[string][]state.Key{} // by the set it is taken from
	for _, c := range p.Plan.Changes {
		if c.Key.System != state.Prefect {
			continue
		}
		switch {
		case c.Action == plan.Unmanaged:
			unmanaged[c.Key] = true
		case c.Release:
			// The pool's default queue goes with it; the set's other
			// queues in it are changes of their own.
			inv.Drop(withDefaultQueue(c.Key)...)
		case c.Take:
			for _, set := range c.OtherSets {
				moved[set] = append(moved[set], withDefaultQueue(c.Key)...)
			}
		}
	}
	for k := range p.Desired.Pools {
		if !unmanaged[state.PoolKey(k)] {
			inv.Add(state.PoolKey(k))
		}
	}
	for k := range p.Desired.Queues {
		if !unmanaged[k] {
			inv.Add(k)
		}
	}
	if err := inv.Save(ctx, p.Client); err != nil {
		return err
	}
	sets := make([]string, 0, len(moved))
	for set := range moved {
		sets = append(sets, set)
	}
	slices.Sort(sets)
	for _, set := range sets {
		other := p.Inventories.Other(set)
		if other == nil {
			continue
		}
		other.Drop(moved[set]...)
		if err := other.Save(ctx, p.Client); err != nil {
			return fmt.Errorf("%w; set %q owns what it took over, and set %q still lists it too: run sync --adopt again to take it from set %q", err, inv.Set, set, set)
		}
	}
	return nil
}

// withDefaultQueue is a key, and for a pool its default queue, which goes
// with the pool.
func withDefaultQueue(k state.Key) []state.Key {
	if k.Kind == state.KindWorkPool {
		return []state.Key{k, state.QueueKey(k.Name, plan.DefaultQueue)}
	}
	return []state.Key{k}
}

// mayOwnKubernetes says whether the set may own objects in a cluster once
// results are applied (results nil: before applying, or with nothing to
// apply), and in which namespaces: while the plan holds a Kubernetes object
// the set owns or takes over, other than one it deleted. When the cluster
// was not read, it stays what the inventory says.
func (p *Planned) mayOwnKubernetes(results []apply.Result) (bool, []string) {
	if p.Kube == nil { // the cluster was not read
		return p.Inventory.Kubernetes, p.Inventory.Namespaces
	}
	gone := map[state.Key]bool{}
	for _, r := range results {
		if r.Status == apply.Applied && r.Action == plan.Delete {
			gone[r.Key] = true
		}
	}
	owns := false
	var namespaces []string
	for _, c := range p.Plan.Changes {
		if c.Key.System != state.Kubernetes || c.Action == plan.Unmanaged || gone[c.Key] {
			continue
		}
		owns = true
		if c.Key.Namespace != "" && !slices.Contains(namespaces, c.Key.Namespace) {
			namespaces = append(namespaces, c.Key.Namespace)
		}
	}
	slices.Sort(namespaces)
	return owns, namespaces
}
