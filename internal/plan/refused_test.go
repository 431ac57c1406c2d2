package plan

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// An object the server refused in a dry run carries the reason as its
// problem: a create keeps the file's fields; an existing object has no
// prediction, so it shows no fields (the file's object against the live one
// would show the server's defaults as removals); one the set does not own
// stays unmanaged, with the problem.
func TestRefusedObjectsCarryTheProblem(t *testing.T) {
	newKey := state.Key{System: state.Kubernetes, Kind: "ConfigMap", Namespace: "prefect", Name: "new"}
	oldKey := state.Key{System: state.Kubernetes, Kind: "ConfigMap", Namespace: "prefect", Name: "old"}
	cm := func(name string, data map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": "prefect"}, "data": data}}
	}
	for name, tc := range map[string]struct {
		owned  bool
		action Action
	}{"owned": {true, Update}, "not owned": {false, Unmanaged}} {
		t.Run(name, func(t *testing.T) {
			desired, live := state.New(), state.New()
			desired.Objects[newKey] = cm("new", map[string]any{"bad key": "x"})
			desired.Objects[oldKey] = cm("old", map[string]any{"bad key": "x"})
			live.Objects[oldKey] = cm("old", map[string]any{"fine": "y"})
			p, err := Compute(desired, live, Options{Set: "team", Owned: func(state.Key) bool { return tc.owned },
				Refused: map[state.Key]string{newKey: "new is invalid", oldKey: "old is invalid"}})
			if err != nil {
				t.Fatal(err)
			}
			got := map[state.Key]Change{}
			for _, c := range p.Changes {
				got[c.Key] = c
			}
			if c := got[newKey]; c.Action != Create || c.Problem != "new is invalid" || len(c.Fields) == 0 {
				t.Errorf("new: %s, problem %q, %d fields", c.Action, c.Problem, len(c.Fields))
			}
			if c := got[oldKey]; c.Action != tc.action || c.Problem != "old is invalid" || len(c.Fields) != 0 {
				t.Errorf("old: %s, problem %q, fields %v; want %s", c.Action, c.Problem, c.Fields, tc.action)
			}
			if s := p.Summary(); s.Problems != 2 || len(p.Problems()) != 2 {
				t.Errorf("problems: %d, %d", s.Problems, len(p.Problems()))
			}
		})
	}
}
