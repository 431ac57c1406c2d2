package plan

import (
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// A pool the set owns that left the file is deleted by --prune only when
// every queue in it is the set's (its default aside): deleting the pool
// would delete queues made by hand. The set's own queues in a pool kept so
// are planned on their own: orphans, deleted by --prune.
func TestPruneKeepsAPoolHoldingQueuesTheSetDoesNotOwn(t *testing.T) {
	live := state.New()
	for _, p := range []string{"held", "free"} {
		live.AddPool(&state.Pool{Name: p, Type: "process"})
		live.AddQueue(&state.Queue{Pool: p, Name: DefaultQueue})
		live.AddQueue(&state.Queue{Pool: p, Name: "ours"})
	}
	live.AddQueue(&state.Queue{Pool: "held", Name: "by hand"})
	owned := map[state.Key]bool{
		state.PoolKey("held"): true, state.QueueKey("held", "ours"): true,
		state.PoolKey("free"): true, state.QueueKey("free", "ours"): true,
	}
	for _, prune := range []bool{false, true} {
		p, err := Compute(state.New(), live, Options{Set: "team", Prune: prune, Owned: func(k state.Key) bool { return owned[k] }})
		if err != nil {
			t.Fatal(err)
		}
		got := map[state.Key]Change{}
		for _, c := range p.Changes {
			got[c.Key] = c
		}
		held := got[state.PoolKey("held")]
		if held.Action != Orphan || !strings.Contains(held.Reason, `"by hand"`) || !strings.Contains(held.Reason, "even with --prune") {
			t.Errorf("prune=%v: held pool: %s %q, want kept, naming the queue", prune, held.Action, held.Reason)
		}
		wantFree := Orphan
		if prune {
			wantFree = Delete
		}
		if c := got[state.PoolKey("free")]; c.Action != wantFree {
			t.Errorf("prune=%v: free pool: %s, want %s", prune, c.Action, wantFree)
		}
		if c := got[state.QueueKey("held", "ours")]; c.Action != wantFree {
			t.Errorf("prune=%v: the set's queue in the held pool: %s, want %s", prune, c.Action, wantFree)
		}
		for k, c := range got {
			if k.Kind == state.KindWorkQueue && k != state.QueueKey("held", "ours") {
				t.Errorf("prune=%v: a queue that goes with its pool, or is not the set's, is planned on its own: %s %s", prune, c.Action, k)
			}
		}
	}
}
