package render

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

func conflictPlan(forced bool) *plan.Plan {
	key := state.Key{System: state.Kubernetes, Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding", Name: "prefect-worker-binding"}
	return &plan.Plan{Version: plan.FormatVersion, Set: "gbif", ForceConflicts: forced, Changes: []plan.Change{{
		Key: key, Action: plan.Update,
		Fields:    []plan.FieldChange{{Path: "subjects[1]", Old: map[string]any{"kind": "User", "name": "mallory"}, HasOld: true}},
		Conflicts: []state.Conflict{{Manager: "kubectl-edit", Fields: []string{"subjects"}}},
	}}}
}

// The plan shows a conflict on its object: the manager, the fields, and
// what sync does with it, in every format.
func TestConflictsRendered(t *testing.T) {
	var b bytes.Buffer
	if err := Text(&b, conflictPlan(false), Style{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`~ ClusterRoleBinding "prefect-worker-binding" will be updated`,
		`    ! conflict: field manager "kubectl-edit" owns subjects, with a value other than the file's; sync fails on this object unless run with --force-conflicts, which takes it over (or change it back)`,
		`Plan: 0 to create, 1 to update, 0 to replace, 0 to delete. 1 with fields another field manager owns: sync fails on it without --force-conflicts.`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := Text(&b, conflictPlan(true), Style{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`    # conflict: field manager "kubectl-edit" owns subjects, with a value other than the file's; --force-conflicts takes it over`,
		`1 with fields another field manager owns, taken over (--force-conflicts).`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("forced text lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := Markdown(&b, conflictPlan(false)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `**conflict: field manager "kubectl-edit" owns subjects`) {
		t.Errorf("markdown lacks the conflict:\n%s", b.String())
	}
	b.Reset()
	if err := JSON(&b, conflictPlan(false)); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ForceConflicts bool
		Summary        struct{ Conflicts int }
		Changes        []struct {
			Conflicts []struct {
				Manager string
				Fields  []string
			}
		}
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ForceConflicts || doc.Summary.Conflicts != 1 || len(doc.Changes) != 1 || len(doc.Changes[0].Conflicts) != 1 ||
		doc.Changes[0].Conflicts[0].Manager != "kubectl-edit" || strings.Join(doc.Changes[0].Conflicts[0].Fields, ",") != "subjects" {
		t.Errorf("JSON:\n%s", b.String())
	}
}

// An object the server refused shows its reason in every format.
func TestProblemsRendered(t *testing.T) {
	key := state.Key{System: state.Kubernetes, Kind: "ConfigMap", Namespace: "prefect", Name: "cm1"}
	p := &plan.Plan{Version: plan.FormatVersion, Set: "gbif", Changes: []plan.Change{{Key: key, Action: plan.Create,
		Fields: []plan.FieldChange{{Path: `data["bad key"]`, New: "x", HasNew: true}}, Problem: `ConfigMap "cm1" is invalid: data[bad key]: Invalid value`}}}
	want := `refused by the API server (dry run): ConfigMap "cm1" is invalid: data[bad key]: Invalid value; sync changes nothing until the file is fixed`
	for name, write := range map[string]func(*bytes.Buffer) error{
		"text":     func(b *bytes.Buffer) error { return Text(b, p, Style{}) },
		"markdown": func(b *bytes.Buffer) error { return Markdown(b, p) },
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), want) || !strings.Contains(b.String(), "1 refused by the API server (dry run)") {
			t.Errorf("%s lacks the problem:\n%s", name, b.String())
		}
	}
}
