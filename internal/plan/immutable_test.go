package plan

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// An object the server will not change in place is replaced when the set
// owns it (or --adopt), and only reported otherwise; a Secret's data
// stays masked.
func TestImmutableObjectsAreReplaced(t *testing.T) {
	secret := func(typ string, labels map[string]any, data map[string]any) *unstructured.Unstructured {
		md := map[string]any{"name": "auth", "namespace": "prefect", "resourceVersion": "3"}
		if labels != nil {
			md["labels"] = labels
		}
		o := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": md, "type": typ}
		if data != nil {
			o["data"] = data
		}
		return &unstructured.Unstructured{Object: o}
	}
	key := state.Key{System: state.Kubernetes, Kind: "Secret", Namespace: "prefect", Name: "auth"}
	want := state.New()
	want.Objects[key] = secret("example.com/basic-auth", ownedLabels("team"), map[string]any{"k": "bmV3"})
	im := map[state.Key]state.Immutable{key: {Fields: []string{"type", "data"}, Messages: []string{"type: field is immutable", "data: field is immutable when `immutable` is set"}}}
	for name, tc := range map[string]struct {
		owned, adopt bool
		action       Action
	}{
		"owned":            {owned: true, action: Replace},
		"not owned":        {action: Unmanaged},
		"not owned, adopt": {adopt: true, action: Replace},
	} {
		t.Run(name, func(t *testing.T) {
			live := state.New()
			var labels map[string]any
			if tc.owned {
				labels = ownedLabels("team")
			}
			live.Objects[key] = secret("Opaque", labels, map[string]any{"k": "b2xk"})
			p, err := Compute(want, live, Options{Set: "team", Adopt: tc.adopt, Immutable: im, Owned: func(state.Key) bool { return tc.owned }})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Changes) != 1 {
				t.Fatalf("changes %+v", p.Changes)
			}
			c := p.Changes[0]
			if c.Action != tc.action || c.Fingerprint != "3" {
				t.Errorf("action %s fingerprint %q, want %s", c.Action, c.Fingerprint, tc.action)
			}
			if tc.action == Replace && !strings.Contains(c.Reason, "type: field is immutable; data: field is immutable") {
				t.Errorf("reason %q", c.Reason)
			}
			paths := map[string]FieldChange{}
			for _, f := range c.Fields {
				paths[f.Path] = f
			}
			if f := paths["type"]; f.Old != "Opaque" || f.New != "example.com/basic-auth" {
				t.Errorf("type change %+v", f)
			}
			for _, f := range c.Fields {
				if strings.HasPrefix(f.Path, "data") && (!f.Sensitive || f.Old != Masked || f.New != Masked) {
					t.Errorf("data not masked: %+v", f)
				}
			}
		})
	}
}

// A declared object that is being deleted (finalizers not done) is a
// replace that says why, when the set owns it; otherwise only reported.
func TestTerminatingDeclaredObjectIsRecreated(t *testing.T) {
	key := state.Key{System: state.Kubernetes, Kind: "ServiceAccount", Namespace: "prefect", Name: "worker"}
	sa := func(labels map[string]any) *unstructured.Unstructured {
		md := map[string]any{"name": "worker", "namespace": "prefect", "resourceVersion": "7"}
		if labels != nil {
			md["labels"] = labels
		}
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": md}}
	}
	want := state.New()
	want.Objects[key] = sa(ownedLabels("team"))
	for name, tc := range map[string]struct {
		owned  bool
		action Action
	}{
		"owned":     {owned: true, action: Replace},
		"not owned": {action: Unmanaged},
	} {
		t.Run(name, func(t *testing.T) {
			live := state.New()
			var labels map[string]any
			if tc.owned {
				labels = ownedLabels("team")
			}
			l := sa(labels)
			l.SetDeletionTimestamp(&metav1.Time{Time: time.Unix(1700000000, 0)})
			l.SetFinalizers([]string{"example.com/hold"})
			live.Objects[key] = l
			p, err := Compute(want, live, Options{Set: "team", Owned: func(state.Key) bool { return tc.owned }})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Changes) != 1 || p.Changes[0].Action != tc.action || p.Changes[0].Fingerprint != "7" {
				t.Fatalf("changes %+v, want one %s", p.Changes, tc.action)
			}
			if r := p.Changes[0].Reason; tc.action == Replace && r != "it is being deleted (finalizers: example.com/hold): it is created again once it is gone" {
				t.Errorf("reason %q", r)
			}
		})
	}
	// Without the deletion, the same objects are in sync.
	live := state.New()
	live.Objects[key] = sa(ownedLabels("team"))
	p, err := Compute(want, live, Options{Set: "team", Owned: func(state.Key) bool { return true }})
	if err != nil || len(p.Changes) != 1 || p.Changes[0].Action != NoOp {
		t.Errorf("not terminating: %+v (err %v)", p.Changes, err)
	}
}
