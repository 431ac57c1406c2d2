package plan

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

func sp(s string) *string { return &s }

func sa(labels map[string]any) *unstructured.Unstructured {
	md := map[string]any{"name": "worker", "namespace": "prefect"}
	if labels != nil {
		md["labels"] = labels
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": md}}
}

func ownedLabels(set string) map[string]any {
	return map[string]any{state.ManagedByLabel: state.ManagedByValue, state.SetLabel: set}
}

func TestAdoption(t *testing.T) {
	tmpl := map[string]any{"job_configuration": map[string]any{}, "variables": map[string]any{"properties": map[string]any{}}}
	poolKey := state.PoolKey("gpu")
	defKey := state.QueueKey("gpu", DefaultQueue)
	urgentKey := state.QueueKey("gpu", "urgent")
	saKey := state.Key{System: state.Kubernetes, Kind: "ServiceAccount", Namespace: "prefect", Name: "worker"}

	desired := func() *state.State {
		s := state.New()
		s.AddPool(&state.Pool{Name: "gpu", Type: "kubernetes", Description: sp("GPU"), BaseJobTemplate: tmpl})
		s.AddQueue(&state.Queue{Pool: "gpu", Name: DefaultQueue, Priority: intPtr(1)})
		s.AddQueue(&state.Queue{Pool: "gpu", Name: "urgent", Priority: intPtr(2)})
		s.Objects[saKey] = sa(ownedLabels("team"))
		return s
	}
	live := func(description string, saLabels map[string]any) *state.State {
		s := state.New()
		f := false
		s.AddPool(&state.Pool{Name: "gpu", Type: "kubernetes", Description: sp(description), Paused: &f, BaseJobTemplate: tmpl, Updated: "t1"})
		s.AddQueue(&state.Queue{Pool: "gpu", Name: DefaultQueue, Priority: intPtr(1), Paused: &f})
		s.Objects[saKey] = sa(saLabels)
		return s
	}
	// The dry run of the declared object: the live object with the labels.
	predict := func(l *state.State) map[state.Key]*unstructured.Unstructured {
		o := l.Objects[saKey].DeepCopy()
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[state.ManagedByLabel], labels[state.SetLabel] = state.ManagedByValue, "team"
		o.SetLabels(labels)
		return map[state.Key]*unstructured.Unstructured{saKey: o}
	}
	ownsPool := func(k state.Key) bool { return k == poolKey || k == saKey }

	tests := map[string]struct {
		live        *state.State
		adopt       bool
		owned       func(state.Key) bool
		want        map[state.Key]Action
		fields      map[state.Key]int
		writes      bool
		changes     bool
		reasonHas   map[state.Key]string
		adoptCount  int
		unmanagedCt int
	}{
		"matching, not owned, no --adopt: unmanaged and in sync": {
			live: live("GPU", nil),
			want: map[state.Key]Action{poolKey: Unmanaged, defKey: Unmanaged, urgentKey: Unmanaged, saKey: Unmanaged},
			// Nothing is written, not even the missing queue: it would go
			// into a pool the set leaves alone.
			writes: false, changes: true, unmanagedCt: 4,
			fields: map[state.Key]int{poolKey: 0, defKey: 0, saKey: 0, urgentKey: 1},
			reasonHas: map[state.Key]string{poolKey: `exists, not managed by set "team"; --adopt takes it over`,
				urgentKey: `not created: its work pool "gpu" is not managed by set "team"`},
		},
		"differing, not owned, no --adopt: unmanaged with the differences": {
			live: live("old", map[string]any{"team": "data"}),
			want: map[state.Key]Action{poolKey: Unmanaged, defKey: Unmanaged, saKey: Unmanaged},
			// The ownership labels are not a difference; the label the
			// live object has and the file lacks is kept by the dry run.
			fields:      map[state.Key]int{poolKey: 1, saKey: 0},
			changes:     true,
			unmanagedCt: 4,
			reasonHas:   map[state.Key]string{poolKey: "differs from the file"},
		},
		"labelled by another set": {
			live:      live("GPU", ownedLabels("other")),
			want:      map[state.Key]Action{saKey: Unmanaged},
			reasonHas: map[state.Key]string{saKey: `managed by set "other", not by set "team"`},
			changes:   true, unmanagedCt: 4,
		},
		"matching, --adopt: taken over without other changes": {
			live:  live("GPU", nil),
			adopt: true,
			want:  map[state.Key]Action{poolKey: NoOp, defKey: NoOp, urgentKey: Create, saKey: Update},
			// The Kubernetes object gains its ownership labels.
			fields: map[state.Key]int{poolKey: 0, saKey: 1},
			writes: true, changes: true, adoptCount: 3,
		},
		"differing, --adopt: updated in place": {
			live:   live("old", nil),
			adopt:  true,
			want:   map[state.Key]Action{poolKey: Update},
			fields: map[state.Key]int{poolKey: 1},
			writes: true, changes: true, adoptCount: 3,
		},
		"the default queue of an owned pool is owned": {
			live:   live("GPU", ownedLabels("team")),
			owned:  ownsPool,
			want:   map[state.Key]Action{poolKey: NoOp, defKey: NoOp, saKey: NoOp},
			writes: true, changes: true, // the missing queue
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := Compute(desired(), tc.live, Options{Set: "team", Adopt: tc.adopt, Owned: tc.owned, Predicted: predict(tc.live)})
			if err != nil {
				t.Fatal(err)
			}
			got := map[state.Key]Change{}
			for _, c := range p.Changes {
				got[c.Key] = c
			}
			for k, want := range tc.want {
				if got[k].Action != want {
					t.Errorf("%s: action %q, want %q (reason %q)", k, got[k].Action, want, got[k].Reason)
				}
			}
			for k, n := range tc.fields {
				if len(got[k].Fields) != n {
					t.Errorf("%s: %d fields, want %d: %+v", k, len(got[k].Fields), n, got[k].Fields)
				}
			}
			for k, s := range tc.reasonHas {
				if !strings.Contains(got[k].Reason, s) {
					t.Errorf("%s: reason %q lacks %q", k, got[k].Reason, s)
				}
			}
			if p.Writes() != tc.writes || p.HasChanges() != tc.changes {
				t.Errorf("Writes=%v HasChanges=%v, want %v %v", p.Writes(), p.HasChanges(), tc.writes, tc.changes)
			}
			s := p.Summary()
			if s.Adopt != tc.adoptCount || s.Unmanaged != tc.unmanagedCt {
				t.Errorf("summary adopt=%d unmanaged=%d, want %d %d", s.Adopt, s.Unmanaged, tc.adoptCount, tc.unmanagedCt)
			}
			for _, c := range p.Pending() {
				if c.Action == Unmanaged {
					t.Errorf("unmanaged %s is pending", c.Key)
				}
				for _, d := range c.DependsOn {
					if got[d].Action == Unmanaged {
						t.Errorf("%s depends on unmanaged %s", c.Key, d)
					}
				}
			}
		})
	}
}

func TestUnmanagedOnlyMatchingIsInSync(t *testing.T) {
	d, l := state.New(), state.New()
	d.AddPool(&state.Pool{Name: "p", Type: "process"})
	l.AddPool(&state.Pool{Name: "p", Type: "process"})
	p, err := Compute(d, l, Options{Set: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if p.HasChanges() || p.Writes() || len(p.Pending()) != 0 || p.Summary().Unmanaged != 1 {
		t.Errorf("plan %+v: want one unmanaged change and no changes", p.Changes)
	}
	// A type change of a pool nobody owns is never a replace.
	d.Pools["p"].Type = "kubernetes"
	p, _ = Compute(d, l, Options{Set: "s"})
	if c := p.Changes[0]; c.Action != Unmanaged || !p.HasChanges() || p.Writes() {
		t.Errorf("type change of an unowned pool: %+v", c)
	}
}
