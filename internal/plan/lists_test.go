package plan

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// A role's rules are what a reviewer checks: created, each rule is a field
// of its own; changed from one rule to three, the plan shows what changed
// in the first and the two added, not two whole lists (which a plan
// summarises as "[...3 items]"). A list of strings stays one value.
func TestRulesAreShownOneByOne(t *testing.T) {
	rule := func(groups, resources, verbs []any) any {
		return map[string]any{"apiGroups": groups, "resources": resources, "verbs": verbs}
	}
	role := func(rules ...any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
			"metadata": map[string]any{"name": "runner"}, "rules": rules}}
	}
	pods := rule([]any{""}, []any{"pods", "pods/log"}, []any{"get", "list", "watch", "create", "delete"})
	jobs := rule([]any{"batch"}, []any{"jobs"}, []any{"get", "list", "create"})
	events := rule([]any{""}, []any{"events"}, []any{"get", "list"})
	all := rule([]any{"*"}, []any{"*"}, []any{"*"})
	key := state.ObjectKey(role())

	var created []string
	for _, f := range objectFields(key, role(pods, jobs, events)) {
		created = append(created, f.Path)
	}
	if want := []string{"metadata.name", "rules[0]", "rules[1]", "rules[2]"}; !reflect.DeepEqual(created, want) {
		t.Errorf("create fields %v, want %v", created, want)
	}

	got := map[string]FieldChange{}
	for _, f := range diffObjects(key, role(pods, jobs, events), role(all)) {
		got[f.Path] = f
	}
	want := map[string]FieldChange{
		"rules[0].apiGroups[0]": {Path: "rules[0].apiGroups[0]", Old: "*", New: "", HasOld: true, HasNew: true},
		"rules[0].resources":    {Path: "rules[0].resources", Old: []any{"*"}, New: []any{"pods", "pods/log"}, HasOld: true, HasNew: true},
		"rules[0].verbs":        {Path: "rules[0].verbs", Old: []any{"*"}, New: []any{"get", "list", "watch", "create", "delete"}, HasOld: true, HasNew: true},
		"rules[1]":              {Path: "rules[1]", New: jobs, HasNew: true},
		"rules[2]":              {Path: "rules[2]", New: events, HasNew: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("update fields\n %v\nwant\n %v", got, want)
	}
	// Back to one rule: the two are removed.
	back := diffObjects(key, role(all), role(pods, jobs, events))
	if n := len(back); n != 5 || back[3].Path != "rules[1]" || back[3].HasNew || back[4].Path != "rules[2]" || back[4].HasNew {
		t.Errorf("removing rules: %+v", back)
	}
}
