package plan

import (
	"reflect"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// ownership is what two sets' inventories list, for the planner's
// Options.Owned (this set's) and Options.Owners (the others').
type ownership map[state.Key][]string

func (o ownership) owned(set string) func(state.Key) bool {
	return func(k state.Key) bool {
		for _, s := range o[k] {
			if s == set {
				return true
			}
		}
		return k.Kind == state.KindWorkQueue && k.Name == DefaultQueue && o.owned(set)(state.PoolKey(k.Namespace))
	}
}

func (o ownership) owners(k state.Key) []string {
	out := append([]string{}, o[k]...)
	if k.Kind == state.KindWorkQueue && k.Name == DefaultQueue {
		out = append(out, o[state.PoolKey(k.Namespace)]...)
	}
	return out
}

func (o ownership) options(set string) Options {
	return Options{Set: set, Owned: o.owned(set), Owners: o.owners}
}

func byKey(p *Plan) map[state.Key]Change {
	out := map[state.Key]Change{}
	for _, c := range p.Changes {
		out[c.Key] = c
	}
	return out
}

// twoPools is a live server with pools cpu and mem, each with its default
// queue and a queue "batch".
func twoPools() *state.State {
	live := state.New()
	for _, p := range []string{"cpu", "mem"} {
		live.AddPool(&state.Pool{Name: p, Type: "process"})
		live.AddQueue(&state.Queue{Pool: p, Name: DefaultQueue})
		live.AddQueue(&state.Queue{Pool: p, Name: "batch", Priority: intPtr(2)})
	}
	return live
}

func declare(pools ...string) *state.State {
	d := state.New()
	for _, p := range pools {
		d.AddPool(&state.Pool{Name: p, Type: "process"})
		d.AddQueue(&state.Queue{Pool: p, Name: "batch", Priority: intPtr(2)})
	}
	return d
}

// A pool or queue another set's inventory lists is shown as that set's,
// as a Kubernetes object labelled with another set is; a queue the file
// adds to another set's pool names that set.
func TestAnotherSetsPoolIsShownAsItsOwn(t *testing.T) {
	o := ownership{state.PoolKey("cpu"): {"gbif"}, state.QueueKey("cpu", "batch"): {"gbif"}}
	want := declare("cpu")
	want.AddQueue(&state.Queue{Pool: "cpu", Name: "new"})
	p, err := Compute(want, twoPools(), o.options("newteam"))
	if err != nil {
		t.Fatal(err)
	}
	got := byKey(p)
	for _, k := range []state.Key{state.PoolKey("cpu"), state.QueueKey("cpu", "batch")} {
		c := got[k]
		if c.Action != Unmanaged || c.Reason != `exists, managed by set "gbif", not by set "newteam"; --adopt takes it over` ||
			!reflect.DeepEqual(c.OtherSets, []string{"gbif"}) || c.Take {
			t.Errorf("%s: %+v", k, c)
		}
	}
	if c := got[state.QueueKey("cpu", "new")]; c.Action != Unmanaged ||
		c.Reason != `not created: its work pool "cpu" is managed by set "gbif", not by set "newteam"; --adopt takes the pool over and creates it` {
		t.Errorf("a new queue in gbif's pool: %+v", c)
	}
	if p.Writes() {
		t.Error("the plan writes")
	}
	// Nobody's pool keeps its wording.
	p, _ = Compute(declare("mem"), twoPools(), o.options("newteam"))
	if c := byKey(p)[state.PoolKey("mem")]; c.Reason != `exists, not managed by set "newteam"; --adopt takes it over` || c.OtherSets != nil {
		t.Errorf("a pool nobody owns: %+v", c)
	}
}

// --adopt of what another set owns moves it: the change takes it from that
// set (Take), and counts as a take-over.
func TestAdoptTakesFromTheOtherSet(t *testing.T) {
	o := ownership{state.PoolKey("cpu"): {"gbif"}, state.QueueKey("cpu", "batch"): {"gbif"}}
	opts := o.options("newteam")
	opts.Adopt = true
	p, err := Compute(declare("cpu", "mem"), twoPools(), opts)
	if err != nil {
		t.Fatal(err)
	}
	got := byKey(p)
	for _, k := range []state.Key{state.PoolKey("cpu"), state.QueueKey("cpu", "batch")} {
		if c := got[k]; c.Action != NoOp || !c.Adopted() || !c.Take || !reflect.DeepEqual(c.OtherSets, []string{"gbif"}) {
			t.Errorf("%s: %+v", k, c)
		}
	}
	for _, k := range []state.Key{state.PoolKey("mem"), state.QueueKey("mem", "batch")} {
		if c := got[k]; !c.Adopted() || c.Take || c.OtherSets != nil {
			t.Errorf("%s, nobody's: %+v", k, c)
		}
	}
	if s := p.Summary(); s.Adopt != 4 || !p.Writes() {
		t.Errorf("summary %+v", s)
	}
}

// Pools and queues two sets both list (inventories written before
// ownership was exclusive): a declared one says so and --adopt takes it
// from the other; one that left the file is kept even with --prune, which
// lets go of it instead of deleting it.
func TestPruneNeverDeletesWhatAnotherSetLists(t *testing.T) {
	both := []string{"gbif", "newteam"}
	o := ownership{
		state.PoolKey("cpu"): both, state.QueueKey("cpu", "batch"): both,
		state.PoolKey("mem"): both, state.QueueKey("mem", "batch"): both,
	}
	for _, prune := range []bool{false, true} {
		opts := o.options("gbif")
		opts.Prune = prune
		p, err := Compute(declare("cpu"), twoPools(), opts)
		if err != nil {
			t.Fatal(err)
		}
		got := byKey(p)
		if c := got[state.PoolKey("cpu")]; c.Action != NoOp || c.Take || !reflect.DeepEqual(c.OtherSets, []string{"newteam"}) {
			t.Errorf("prune=%v: the declared shared pool: %+v", prune, c)
		}
		for _, k := range []state.Key{state.PoolKey("mem"), state.QueueKey("mem", "batch")} {
			c := got[k]
			then := "--prune drops it from"
			if prune {
				then = "applying drops it from"
			}
			want := `kept, even with --prune: set "newteam" manages it too; ` + then + ` set "gbif"'s inventory and leaves it to set "newteam"`
			if c.Action != Orphan || !c.Kept || c.Release != prune || c.Reason != want || !reflect.DeepEqual(c.OtherSets, []string{"newteam"}) {
				t.Errorf("prune=%v: %s: %+v\nwant reason %q", prune, k, c, want)
			}
		}
		for _, c := range p.Changes {
			if c.Action == Delete {
				t.Errorf("prune=%v: deletes %s", prune, c.Key)
			}
		}
		if s := p.Summary(); s.Kept != 2 || p.Writes() != prune {
			t.Errorf("prune=%v: summary %+v, writes %v", prune, s, p.Writes())
		}
	}

	// With --adopt, the declared ones are taken from the other set.
	opts := o.options("gbif")
	opts.Adopt = true
	p, _ := Compute(declare("cpu", "mem"), twoPools(), opts)
	for _, c := range p.Changes {
		if !c.Take || c.Adopted() || !reflect.DeepEqual(c.OtherSets, []string{"newteam"}) {
			t.Errorf("--adopt of a shared object: %+v", c)
		}
	}
	if s := p.Summary(); s.Adopt != 4 {
		t.Errorf("summary %+v", s)
	}
}

// A pool the set alone owns is not deleted when another set's inventory
// lists one of its queues (deleting the pool would delete it), and the
// queue is let go of; a queue the set alone owns in a pool it lets go of
// is pruned on its own.
func TestPruneKeepsAPoolHoldingAnotherSetsQueue(t *testing.T) {
	o := ownership{
		state.PoolKey("cpu"): {"gbif"}, state.QueueKey("cpu", "batch"): {"gbif", "newteam"},
		state.PoolKey("mem"): {"gbif", "newteam"}, state.QueueKey("mem", "batch"): {"gbif"},
	}
	opts := o.options("gbif")
	opts.Prune = true
	p, err := Compute(state.New(), twoPools(), opts)
	if err != nil {
		t.Fatal(err)
	}
	got := byKey(p)
	if c := got[state.PoolKey("cpu")]; c.Action != Orphan || !c.Kept || c.Release ||
		c.Reason != `kept, even with --prune: it holds queues other sets' inventories list ("batch" (set "newteam")), which deleting the pool would delete` {
		t.Errorf("cpu: %+v", c)
	}
	if c := got[state.PoolKey("mem")]; c.Action != Orphan || !c.Release {
		t.Errorf("mem: %+v", c)
	}
	if c := got[state.QueueKey("mem", "batch")]; c.Action != Delete {
		t.Errorf("mem/batch, the set's alone: %+v", c)
	}
	// The set's queues in a pool it keeps are planned on their own: this
	// one is another set's too, so it is let go of, not deleted.
	if c := got[state.QueueKey("cpu", "batch")]; c.Action != Orphan || !c.Release {
		t.Errorf("cpu/batch, newteam's too: %+v", c)
	}
	if !strings.Contains(got[state.PoolKey("mem")].Reason, `leaves it to set "newteam"`) {
		t.Errorf("mem reason %q", got[state.PoolKey("mem")].Reason)
	}
}

func TestSetNames(t *testing.T) {
	for in, want := range map[string]string{"a": `set "a"`, "a b": `sets "a" and "b"`, "a b c": `sets "a", "b" and "c"`} {
		if got := SetNames(strings.Fields(in)); got != want {
			t.Errorf("SetNames(%q) = %s, want %s", in, got, want)
		}
	}
}

// A pool another set's inventory lists but that does not exist (deleted by
// hand after that set recorded it): creating it takes it from that set's
// stale record, with or without --adopt, so that one set alone manages it;
// it is a create, not a take-over.
func TestCreateTakesAStaleRecord(t *testing.T) {
	o := ownership{state.PoolKey("gone"): {"gbif"}}
	for _, adopt := range []bool{false, true} {
		opts := o.options("newteam")
		opts.Adopt = adopt
		p, err := Compute(declare("gone"), state.New(), opts)
		if err != nil {
			t.Fatal(err)
		}
		got := byKey(p)
		for _, k := range []state.Key{state.PoolKey("gone"), state.QueueKey("gone", "batch")} {
			c := got[k]
			want := k.Kind == state.KindWorkPool
			if c.Action != Create || c.Take != want || want && !reflect.DeepEqual(c.OtherSets, []string{"gbif"}) {
				t.Errorf("adopt %v, %s: %+v", adopt, k, c)
			}
		}
		if s := p.Summary(); s.Adopt != 0 || s.Create < 2 {
			t.Errorf("adopt %v: summary %+v", adopt, s)
		}
	}
}
