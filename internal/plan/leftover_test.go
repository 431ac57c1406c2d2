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

// Owned objects the file still uses without declaring them stay, even with
// --prune: what Options.InUse names (matched without the API group) and a
// namespace a declared object is in. The rest is deleted.
func TestLeftoversInUseAreKept(t *testing.T) {
	obj := func(apiVersion, kind, ns, name string) *unstructured.Unstructured {
		md := map[string]any{"name": name, "labels": ownedLabels("team"), "resourceVersion": "7"}
		if ns != "" {
			md["namespace"] = ns
		}
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": md}}
	}
	live, desired := state.New(), state.New()
	for _, o := range []*unstructured.Unstructured{
		obj("v1", "Namespace", "", "jobs"),
		obj("v1", "Namespace", "", "spare"),
		obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "runner"),
		obj("v1", "ServiceAccount", "jobs", "old"),
	} {
		live.Objects[state.ObjectKey(o)] = o
	}
	sa := obj("v1", "ServiceAccount", "jobs", "runner")
	desired.Objects[state.ObjectKey(sa)] = sa
	inUse := map[state.Key]string{{System: state.Kubernetes, Kind: "ClusterRole", Name: "runner"}: "the file lists it under kubernetes.external"}
	p, err := Compute(desired, live, Options{Set: "team", Prune: true, Owned: func(state.Key) bool { return true }, InUse: inUse})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Change{}
	for _, c := range p.Changes {
		got[c.Key.Kind+"/"+c.Key.Name] = c
	}
	for name, why := range map[string]string{
		"ClusterRole/runner": "kept, even with --prune: the file lists it under kubernetes.external",
		"Namespace/jobs":     `kept, even with --prune: ServiceAccount "jobs/runner", which the file declares, is in it`,
	} {
		if c := got[name]; c.Action != Orphan || !c.Kept || !strings.HasPrefix(c.Reason, why) {
			t.Errorf("%s: %+v, want a kept orphan because %q", name, c, why)
		}
	}
	for _, name := range []string{"Namespace/spare", "ServiceAccount/old"} {
		if c := got[name]; c.Action != Delete || c.Kept {
			t.Errorf("%s: %+v, want a delete", name, c)
		}
	}
	if s := p.Summary(); s.Orphan != 2 || s.Kept != 2 || s.Delete != 2 {
		t.Errorf("summary %+v", s)
	}
}
