package plan

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// A declared object whose dry run conflicts is an update carrying the
// conflicts, its fields those of the forced outcome; it counts as a change
// (diff exits 2), with or without --force-conflicts, which the plan
// records. An object whose forced outcome matches the live one but whose
// fields another manager owns is still an update: applying writes (or
// fails on) the ownership.
func TestConflictsOnUpdates(t *testing.T) {
	key := state.Key{System: state.Kubernetes, Kind: "ServiceAccount", Namespace: "prefect", Name: "worker"}
	conflicts := []state.Conflict{{Manager: "kubectl-edit", Fields: []string{"automountServiceAccountToken"}}}
	mk := func(mount bool) *unstructured.Unstructured {
		o := sa(ownedLabels("team"))
		o.Object["automountServiceAccountToken"] = mount
		return o
	}
	for name, tc := range map[string]struct {
		live   *unstructured.Unstructured
		force  bool
		action Action
		fields int
	}{
		"differs":             {live: mk(true), action: Update, fields: 1},
		"differs, forced":     {live: mk(true), force: true, action: Update, fields: 1},
		"forced outcome same": {live: mk(false), action: Update, fields: 0},
	} {
		t.Run(name, func(t *testing.T) {
			desired, live := state.New(), state.New()
			desired.Objects[key] = mk(false)
			live.Objects[key] = tc.live
			p, err := Compute(desired, live, Options{Set: "team", Owned: func(state.Key) bool { return true },
				Predicted: map[state.Key]*unstructured.Unstructured{key: mk(false)},
				Conflicts: map[state.Key][]state.Conflict{key: conflicts}, ForceConflicts: tc.force})
			if err != nil {
				t.Fatal(err)
			}
			c := p.Changes[0]
			if c.Action != tc.action || len(c.Fields) != tc.fields || len(c.Conflicts) != 1 || c.Conflicts[0].Manager != "kubectl-edit" {
				t.Errorf("change = %s with %d fields, conflicts %v; want %s with %d", c.Action, len(c.Fields), c.Conflicts, tc.action, tc.fields)
			}
			if !p.HasChanges() || p.Summary().Conflicts != 1 || p.ForceConflicts != tc.force {
				t.Errorf("HasChanges %v, conflicts %d, forced %v", p.HasChanges(), p.Summary().Conflicts, p.ForceConflicts)
			}
		})
	}
}
