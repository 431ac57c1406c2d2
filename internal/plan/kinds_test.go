package plan

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// The apply order comes from state.Kinds: a namespace's ResourceQuota and
// LimitRange are created right after it, before the objects they count
// and the pools whose jobs they constrain, and deleted after them.
func TestQuotasAreAppliedRightAfterTheirNamespace(t *testing.T) {
	obj := func(kind, ns, name string) *unstructured.Unstructured {
		md := map[string]any{"name": name, "labels": ownedLabels("team")}
		if ns != "" {
			md["namespace"] = ns
		}
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": kind, "metadata": md}}
	}
	objects := state.New()
	for _, o := range []*unstructured.Unstructured{
		obj("PersistentVolumeClaim", "jobs", "data"),
		obj("ConfigMap", "jobs", "settings"),
		obj("ServiceAccount", "jobs", "worker"),
		obj("LimitRange", "jobs", "defaults"),
		obj("ResourceQuota", "jobs", "compute"),
		obj("Namespace", "", "jobs"),
	} {
		objects.Objects[state.ObjectKey(o)] = o
	}
	objects.AddPool(&state.Pool{Name: "p", Type: "process"})
	order := func(p *Plan) string {
		var kinds []string
		for _, c := range p.Changes {
			kinds = append(kinds, c.Key.Kind)
		}
		return strings.Join(kinds, " ")
	}

	created, err := Compute(objects, state.New(), Options{Set: "team"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := order(created), "Namespace LimitRange ResourceQuota ServiceAccount ConfigMap PersistentVolumeClaim WorkPool"; got != want {
		t.Errorf("creates in the order %s, want %s", got, want)
	}
	for _, c := range created.Changes {
		if c.Key.Kind == "ResourceQuota" && (len(c.DependsOn) != 1 || c.DependsOn[0].Kind != "Namespace") {
			t.Errorf("the quota depends on %v, want its namespace", c.DependsOn)
		}
	}

	live := state.New()
	for k, o := range objects.Objects {
		live.Objects[k] = o
	}
	deleted, err := Compute(state.New(), live, Options{Set: "team", Prune: true, Owned: func(state.Key) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := order(deleted), "ConfigMap PersistentVolumeClaim ServiceAccount LimitRange ResourceQuota Namespace"; got != want {
		t.Errorf("deletes in the order %s, want %s", got, want)
	}
}
