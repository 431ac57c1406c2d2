package plan

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// Owned objects that left the file: one already being deleted is not
// planned again; deleting a Namespace says it takes its contents with it.
func TestLeftoverObjects(t *testing.T) {
	obj := func(kind, ns, name string, terminating bool) *unstructured.Unstructured {
		md := map[string]any{"name": name, "labels": ownedLabels("team"), "resourceVersion": "7"}
		if ns != "" {
			md["namespace"] = ns
		}
		if terminating {
			md["deletionTimestamp"] = "2026-11-26T10:00:00Z"
		}
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": kind, "metadata": md}}
	}
	live := state.New()
	for _, o := range []*unstructured.Unstructured{
		obj("Namespace", "", "jobs", false),
		obj("Namespace", "", "old", true),
		obj("PersistentVolumeClaim", "jobs", "data", true),
		obj("Secret", "jobs", "auth", false),
	} {
		live.Objects[state.ObjectKey(o)] = o
	}
	owned := func(k state.Key) bool { return true }
	for _, prune := range []bool{false, true} {
		p, err := Compute(state.New(), live, Options{Set: "team", Prune: prune, Owned: owned})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]Change{}
		for _, c := range p.Changes {
			got[c.Key.Kind+"/"+c.Key.Name] = c
		}
		want := Orphan
		if prune {
			want = Delete
		}
		if len(got) != 2 || got["Namespace/jobs"].Action != want || got["Secret/auth"].Action != want {
			t.Errorf("prune=%v: changes %+v, want the namespace jobs and the secret as %s, nothing for the terminating ones", prune, p.Changes, want)
		}
		ns := got["Namespace/jobs"].Reason
		if prune != strings.Contains(ns, "deletes everything in the namespace") {
			t.Errorf("prune=%v: namespace reason %q", prune, ns)
		}
		if strings.Contains(got["Secret/auth"].Reason, "namespace") {
			t.Errorf("secret reason %q", got["Secret/auth"].Reason)
		}
	}
}
