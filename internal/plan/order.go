package plan

import (
	"sort"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// Rank returns a change's level in the apply order: the Kubernetes kinds
// as state.Kinds ranks them, then pools, then queues (state.Rank). Changes
// of one level do not depend on each other. Deletions come after every
// other change, in reverse.
func Rank(c Change) int {
	r := state.Rank(c.Key.Kind)
	if c.Action == Delete || c.Action == Orphan {
		return 100 - r
	}
	return r
}

func order(changes []Change) {
	sort.SliceStable(changes, func(i, j int) bool {
		a, b := changes[i], changes[j]
		if ra, rb := Rank(a), Rank(b); ra != rb {
			return ra < rb
		}
		if a.Key.Kind == state.KindWorkQueue && b.Key.Kind == state.KindWorkQueue && a.Key.Namespace == b.Key.Namespace {
			return priority(a) < priority(b)
		}
		return a.Key.Less(b.Key)
	})
}

// priority orders a pool's queues ascending, those without one last, so the
// server's shifting of taken priorities settles on the declared values.
func priority(c Change) int {
	if c.Queue != nil && c.Queue.Priority != nil {
		return *c.Queue.Priority
	}
	return 1 << 30
}

// dependencies fills DependsOn with the pending changes each change needs.
func (c *computer) dependencies(changes []Change) {
	pending := map[state.Key]bool{}
	for _, ch := range changes {
		if ch.Action != NoOp && ch.Action != Orphan && ch.Action != Unmanaged {
			pending[ch.Key] = true
		}
	}
	for i := range changes {
		ch := &changes[i]
		if ch.Action == NoOp || ch.Action == Orphan || ch.Action == Delete || ch.Action == Unmanaged {
			continue
		}
		var deps []state.Key
		switch {
		case ch.Key.Kind == state.KindWorkQueue:
			deps = append(deps, state.PoolKey(ch.Key.Namespace))
		case ch.Key.Kind == state.KindWorkPool && ch.Pool != nil:
			deps = append(deps, ch.Pool.Requires...)
		case ch.Key.System == state.Kubernetes:
			if ch.Key.Namespace != "" {
				deps = append(deps, state.Key{System: state.Kubernetes, Kind: "Namespace", Name: ch.Key.Namespace})
			}
			deps = append(deps, bindingRefs(ch)...)
		}
		for _, d := range deps {
			if pending[d] {
				ch.DependsOn = append(ch.DependsOn, d)
			}
		}
	}
}

// bindingRefs lists what a RoleBinding or ClusterRoleBinding grants to and
// from: its role and its ServiceAccount subjects. A binding whose role
// failed to apply is skipped rather than left pointing at nothing.
func bindingRefs(ch *Change) []state.Key {
	if ch.Object == nil || !state.IsBinding(ch.Key.Kind) {
		return nil
	}
	var keys []state.Key
	if role, ok := state.RoleRef(ch.Object.Object, ch.Key.Namespace); ok {
		keys = append(keys, role)
	}
	for _, s := range state.ServiceAccountSubjects(ch.Object.Object, ch.Key.Namespace) {
		keys = append(keys, s.Key)
	}
	return keys
}
