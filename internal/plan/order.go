package plan

import (
	"sort"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// rank is the apply order of kinds: namespaces, service accounts, roles,
// bindings, secrets and volumes, then pools, then queues. Deletions run in
// reverse.
var rank = map[string]int{
	"Namespace":             0,
	"ServiceAccount":        1,
	"Role":                  2,
	"ClusterRole":           2,
	"RoleBinding":           3,
	"ClusterRoleBinding":    3,
	"Secret":                4,
	"ConfigMap":             4,
	"PersistentVolumeClaim": 4,
	state.KindWorkPool:      5,
	state.KindWorkQueue:     6,
}

// Rank returns a change's level in the apply order; changes of one level
// do not depend on each other. Deletions come after every other change.
func Rank(c Change) int {
	r := rank[c.Key.Kind]
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
		case ch.Key.System == state.Kubernetes && ch.Key.Namespace != "":
			deps = append(deps, state.Key{System: state.Kubernetes, Kind: "Namespace", Name: ch.Key.Namespace})
		}
		for _, d := range deps {
			if pending[d] {
				ch.DependsOn = append(ch.DependsOn, d)
			}
		}
	}
}
