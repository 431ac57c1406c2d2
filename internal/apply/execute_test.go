package apply_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/apply"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// fakePrefect is an apply.Prefect whose methods call the function fields;
// a nil field succeeds.
type fakePrefect struct {
	CreatePoolFn  func(ctx context.Context, p *state.Pool) error
	UpdatePoolFn  func(ctx context.Context, name string, u state.PoolUpdate) error
	DeletePoolFn  func(ctx context.Context, name string) error
	CreateQueueFn func(ctx context.Context, q *state.Queue) error
	UpdateQueueFn func(ctx context.Context, pool, name string, u state.QueueUpdate) error
	DeleteQueueFn func(ctx context.Context, pool, name string) error
}

var _ apply.Prefect = (*fakePrefect)(nil)

func (f *fakePrefect) CreatePool(ctx context.Context, p *state.Pool) error {
	if f.CreatePoolFn == nil {
		return nil
	}
	return f.CreatePoolFn(ctx, p)
}

func (f *fakePrefect) UpdatePool(ctx context.Context, name string, u state.PoolUpdate) error {
	if f.UpdatePoolFn == nil {
		return nil
	}
	return f.UpdatePoolFn(ctx, name, u)
}

func (f *fakePrefect) DeletePool(ctx context.Context, name string) error {
	if f.DeletePoolFn == nil {
		return nil
	}
	return f.DeletePoolFn(ctx, name)
}

func (f *fakePrefect) CreateQueue(ctx context.Context, q *state.Queue) error {
	if f.CreateQueueFn == nil {
		return nil
	}
	return f.CreateQueueFn(ctx, q)
}

func (f *fakePrefect) UpdateQueue(ctx context.Context, pool, name string, u state.QueueUpdate) error {
	if f.UpdateQueueFn == nil {
		return nil
	}
	return f.UpdateQueueFn(ctx, pool, name, u)
}

func (f *fakePrefect) DeleteQueue(ctx context.Context, pool, name string) error {
	if f.DeleteQueueFn == nil {
		return nil
	}
	return f.DeleteQueueFn(ctx, pool, name)
}

// fakeKube is an apply.Kubernetes whose methods call the function fields.
type fakeKube struct {
	ApplyFn  func(ctx context.Context, obj *unstructured.Unstructured, data map[string][]byte) error
	DeleteFn func(ctx context.Context, key state.Key) error
}

var _ apply.Kubernetes = (*fakeKube)(nil)

func (f *fakeKube) Apply(ctx context.Context, obj *unstructured.Unstructured, data map[string][]byte) error {
	if f.ApplyFn == nil {
		return nil
	}
	return f.ApplyFn(ctx, obj, data)
}

func (f *fakeKube) Delete(ctx context.Context, key state.Key) error {
	if f.DeleteFn == nil {
		return nil
	}
	return f.DeleteFn(ctx, key)
}

// Replace deletes, then applies, through the two fields: what the real
// client does once the old object is gone.
func (f *fakeKube) Replace(ctx context.Context, obj *unstructured.Unstructured, data map[string][]byte) error {
	if err := f.Delete(ctx, state.ObjectKey(obj)); err != nil {
		return err
	}
	return f.Apply(ctx, obj, data)
}

// recorder logs every call both fakes receive, as "Verb target", and lets a
// test fail or delay chosen calls.
type recorder struct {
	mu    sync.Mutex
	calls []string
	// fail maps a call ("CreatePool gpu") to the error it returns.
	fail map[string]error
	// hook, when set, runs inside every call before it returns.
	hook func(ctx context.Context, call string)
}

func (r *recorder) call(ctx context.Context, s string) error {
	r.mu.Lock()
	r.calls = append(r.calls, s)
	err := r.fail[s]
	r.mu.Unlock()
	if r.hook != nil {
		r.hook(ctx, s)
	}
	return err
}

func (r *recorder) log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func (r *recorder) targets() apply.Targets {
	p := &fakePrefect{
		CreatePoolFn: func(ctx context.Context, p *state.Pool) error { return r.call(ctx, "CreatePool "+p.Name) },
		UpdatePoolFn: func(ctx context.Context, name string, u state.PoolUpdate) error {
			return r.call(ctx, "UpdatePool "+name+" {"+u.Fields.String()+"}")
		},
		DeletePoolFn: func(ctx context.Context, name string) error { return r.call(ctx, "DeletePool "+name) },
		CreateQueueFn: func(ctx context.Context, q *state.Queue) error {
			return r.call(ctx, "CreateQueue "+q.Pool+"/"+q.Name)
		},
		UpdateQueueFn: func(ctx context.Context, pool, name string, u state.QueueUpdate) error {
			return r.call(ctx, "UpdateQueue "+pool+"/"+name+" {"+u.Fields.String()+"}")
		},
		DeleteQueueFn: func(ctx context.Context, pool, name string) error { return r.call(ctx, "DeleteQueue "+pool+"/"+name) },
	}
	k := &fakeKube{
		ApplyFn: func(ctx context.Context, obj *unstructured.Unstructured, data map[string][]byte) error {
			return r.call(ctx, "Apply "+state.ObjectKey(obj).String())
		},
		DeleteFn: func(ctx context.Context, key state.Key) error { return r.call(ctx, "Delete "+key.String()) },
	}
	return apply.Targets{Prefect: p, Kubernetes: k, Concurrency: 1}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func object(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	o.SetName(name)
	if namespace != "" {
		o.SetNamespace(namespace)
	}
	return o
}

func ptr[T any](v T) *T { return &v }

// scenario is a realistic plan: the runbook's objects and two pools to
// create, and leftovers of the set to delete.
func scenario(t *testing.T) *plan.Plan {
	t.Helper()
	desired, live := state.New(), state.New()
	for _, o := range []*unstructured.Unstructured{
		object("v1", "Namespace", "", "prefect"),
		object("v1", "ServiceAccount", "prefect", "prefect-worker"),
		object("rbac.authorization.k8s.io/v1", "ClusterRole", "", "prefect-worker-role"),
		object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "prefect-worker-binding"),
		object("v1", "Secret", "prefect", "prefect-basic-auth"),
		object("v1", "PersistentVolumeClaim", "prefect", "shared-data"),
	} {
		desired.Objects[state.ObjectKey(o)] = o
	}
	ns := state.Key{System: state.Kubernetes, Kind: "Namespace", Name: "prefect"}
	secret := state.Key{System: state.Kubernetes, Kind: "Secret", Namespace: "prefect", Name: "prefect-basic-auth"}
	desired.AddPool(&state.Pool{Name: "gbif", Type: "kubernetes", Requires: []state.Key{ns, secret}})
	desired.AddPool(&state.Pool{Name: "cpu", Type: "kubernetes", Requires: []state.Key{ns}})
	desired.AddQueue(&state.Queue{Pool: "gbif", Name: "default", Priority: ptr(2), Description: ptr("everything")})
	desired.AddQueue(&state.Queue{Pool: "gbif", Name: "urgent", Priority: ptr(1)})
	desired.AddQueue(&state.Queue{Pool: "cpu", Name: "batch", Priority: ptr(2)})

	old := object("v1", "ConfigMap", "prefect", "old-settings")
	live.Objects[state.ObjectKey(old)] = old
	live.AddPool(&state.Pool{Name: "gone", Type: "process"})
	live.AddQueue(&state.Queue{Pool: "gone", Name: "default", Priority: ptr(1)})
	owned := map[state.Key]bool{state.ObjectKey(old): true, state.PoolKey("gone"): true}
	p, err := plan.Compute(desired, live, plan.Options{Set: "gbif", Prune: true, Owned: func(k state.Key) bool { return owned[k] }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The calls follow the plan's order across levels: Kubernetes objects by
// kind, pools, queues by priority, then deletions in reverse. Within a level
// (changes independent of each other) the order is free, so each level is
// compared as a set, except one pool's queues, which keep their order.
func TestExecuteFollowsPlanOrder(t *testing.T) {
	p := scenario(t)
	rec := &recorder{}
	results := apply.Execute(context.Background(), p, rec.targets())
	want := [][]string{
		{`Apply Namespace "prefect"`},
		{`Apply ServiceAccount "prefect/prefect-worker"`},
		{`Apply ClusterRole "prefect-worker-role"`},
		{`Apply ClusterRoleBinding "prefect-worker-binding"`},
		{`Apply PersistentVolumeClaim "prefect/shared-data"`, `Apply Secret "prefect/prefect-basic-auth"`},
		{`CreatePool cpu`, `CreatePool gbif`},
		{`CreateQueue cpu/batch`, `CreateQueue gbif/urgent`, `UpdateQueue gbif/default {description,priority}`},
		{`DeletePool gone`},
		{`Delete ConfigMap "prefect/old-settings"`},
	}
	got := rec.log()
	at := 0
	for _, level := range want {
		if at+len(level) > len(got) {
			t.Fatalf("calls:\n%s\nwant levels %q", strings.Join(got, "\n"), want)
		}
		part := append([]string(nil), got[at:at+len(level)]...)
		sortStrings(part)
		if !reflect.DeepEqual(part, level) {
			t.Errorf("calls %d-%d are %q, want %q in any order", at, at+len(level)-1, got[at:at+len(level)], level)
		}
		at += len(level)
	}
	if at != len(got) {
		t.Errorf("extra calls %q", got[at:])
	}
	if i, j := index(got, "CreateQueue gbif/urgent"), index(got, "UpdateQueue gbif/default {description,priority}"); i > j {
		t.Errorf("queue with priority 1 written after the one with priority 2: %q", got)
	}
	for _, r := range results {
		if r.Status != apply.Applied {
			t.Errorf("%s: %s %s", r.Key, r.Status, r.Error)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sortStrings(a)
	sortStrings(b)
	return reflect.DeepEqual(a, b)
}

func index(list []string, s string) int {
	for i, e := range list {
		if e == s {
			return i
		}
	}
	return -1
}

// With several changes in flight, a level still starts only after the one
// before it has finished.
func TestExecuteLevelsDoNotOverlap(t *testing.T) {
	p := scenario(t)
	rank := map[string]int{}
	for _, c := range p.Pending() {
		rank[c.Key.String()] = plan.Rank(c)
	}
	var mu sync.Mutex
	var events []string // "start <rank>" / "end <rank>"
	rec := &recorder{}
	tg := rec.targets()
	tg.Concurrency = 4
	tg.Prefect = &fakePrefect{
		CreatePoolFn: func(ctx context.Context, pl *state.Pool) error {
			return track(&mu, &events, rank[state.PoolKey(pl.Name).String()])
		},
		DeletePoolFn: func(ctx context.Context, name string) error {
			return track(&mu, &events, rank[state.PoolKey(name).String()])
		},
		CreateQueueFn: func(ctx context.Context, q *state.Queue) error {
			return track(&mu, &events, rank[state.QueueKey(q.Pool, q.Name).String()])
		},
		UpdateQueueFn: func(ctx context.Context, pool, name string, _ state.QueueUpdate) error {
			return track(&mu, &events, rank[state.QueueKey(pool, name).String()])
		},
	}
	tg.Kubernetes = &fakeKube{
		ApplyFn: func(ctx context.Context, o *unstructured.Unstructured, _ map[string][]byte) error {
			return track(&mu, &events, rank[state.ObjectKey(o).String()])
		},
		DeleteFn: func(ctx context.Context, k state.Key) error { return track(&mu, &events, rank[k.String()]) },
	}
	apply.Execute(context.Background(), p, tg)
	if len(events) != 2*len(p.Pending()) {
		t.Fatalf("%d events for %d changes", len(events), len(p.Pending()))
	}
	open := map[int]int{}
	maxEnded := -1
	for _, e := range events {
		var kind string
		var r int
		fmt.Sscanf(e, "%s %d", &kind, &r)
		if kind == "start" {
			if r < maxEnded {
				t.Errorf("a change of level %d started after one of level %d ended", r, maxEnded)
			}
			for other, n := range open {
				if n > 0 && other != r {
					t.Errorf("levels %d and %d in flight together", r, other)
				}
			}
			open[r]++
		} else {
			open[r]--
			maxEnded = max(maxEnded, r)
		}
	}
}

func track(mu *sync.Mutex, events *[]string, rank int) error {
	mu.Lock()
	*events = append(*events, fmt.Sprintf("start %d", rank))
	mu.Unlock()
	time.Sleep(time.Millisecond)
	mu.Lock()
	*events = append(*events, fmt.Sprintf("end %d", rank))
	mu.Unlock()
	return nil
}

// gate counts the calls in flight and holds the first ones until `want` are
// in flight together (or a deadline passes), so that reaching the bound does
// not depend on scheduling luck; from then on it lets every call through and
// only keeps counting.
type gate struct {
	mu        sync.Mutex
	cond      *sync.Cond
	in, peak  int
	want      int
	open      bool
	deadline  time.Duration
	completed atomic.Int64
}

func newGate(want int) *gate {
	g := &gate{want: want, deadline: 2 * time.Second}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gate) pass() {
	g.mu.Lock()
	g.in++
	g.peak = max(g.peak, g.in)
	if g.in >= g.want {
		g.open = true
		g.cond.Broadcast()
	}
	timeout := time.AfterFunc(g.deadline, func() { g.mu.Lock(); g.open = true; g.cond.Broadcast(); g.mu.Unlock() })
	for !g.open {
		g.cond.Wait()
	}
	timeout.Stop()
	g.mu.Unlock()
	time.Sleep(time.Millisecond) // overlap with the next calls
	g.mu.Lock()
	g.in--
	g.mu.Unlock()
	g.completed.Add(1)
}

func TestExecuteBoundsConcurrency(t *testing.T) {
	for name, tc := range map[string]struct{ concurrency, want int }{
		"explicit bound": {concurrency: 3, want: 3},
		"default bound":  {concurrency: 0, want: 8},
	} {
		t.Run(name, func(t *testing.T) {
			desired := state.New()
			for i := 0; i < 24; i++ {
				desired.AddPool(&state.Pool{Name: fmt.Sprintf("pool-%02d", i), Type: "process"})
			}
			p, err := plan.Compute(desired, state.New(), plan.Options{Set: "s"})
			if err != nil {
				t.Fatal(err)
			}
			g := newGate(tc.want)
			tg := apply.Targets{Concurrency: tc.concurrency, Prefect: &fakePrefect{
				CreatePoolFn: func(context.Context, *state.Pool) error { g.pass(); return nil },
			}}
			results := apply.Execute(context.Background(), p, tg)
			if g.peak != tc.want {
				t.Errorf("at most %d calls were in flight, want exactly the bound %d", g.peak, tc.want)
			}
			if n := g.completed.Load(); n != 24 || len(results) != 24 {
				t.Errorf("%d calls, %d results; want 24", n, len(results))
			}
		})
	}
}

// The server shifts taken priorities, so one pool's queues are written one
// after the other, lowest priority value first; other pools' queues run
// alongside.
func TestExecuteQueuesOfOnePoolInPriorityOrder(t *testing.T) {
	desired, live := state.New(), state.New()
	for _, pool := range []string{"a", "b", "c"} {
		desired.AddPool(&state.Pool{Name: pool, Type: "process"})
		live.AddPool(&state.Pool{Name: pool, Type: "process"})
		for i, prio := range []int{5, 3, 1, 4, 2} {
			desired.AddQueue(&state.Queue{Pool: pool, Name: fmt.Sprintf("q%d", i), Priority: ptr(prio)})
		}
	}
	owned := func(state.Key) bool { return true }
	p, err := plan.Compute(desired, live, plan.Options{Set: "s", Owned: owned})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	inPool := map[string]int{}
	order := map[string][]int{}
	var total, peak int
	tg := apply.Targets{Concurrency: 8, Prefect: &fakePrefect{CreateQueueFn: func(_ context.Context, q *state.Queue) error {
		mu.Lock()
		inPool[q.Pool]++
		total++
		peak = max(peak, total)
		if inPool[q.Pool] > 1 {
			t.Errorf("two queues of pool %q in flight together", q.Pool)
		}
		order[q.Pool] = append(order[q.Pool], *q.Priority)
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		inPool[q.Pool]--
		total--
		mu.Unlock()
		return nil
	}}}
	apply.Execute(context.Background(), p, tg)
	for _, pool := range []string{"a", "b", "c"} {
		if !reflect.DeepEqual(order[pool], []int{1, 2, 3, 4, 5}) {
			t.Errorf("pool %s: queues written with priorities %v, want ascending", pool, order[pool])
		}
	}
	if peak < 2 {
		t.Errorf("queues of different pools never ran concurrently (peak %d)", peak)
	}
}

func TestExecuteFailures(t *testing.T) {
	boom := errors.New("422 Unprocessable Entity")
	tests := map[string]struct {
		fail         map[string]error
		allowReplace bool
		plan         func(t *testing.T) *plan.Plan
		wantStatus   map[string]apply.Status
		wantError    map[string]string
		// wantCalls are all the calls, in any order; inOrder those whose
		// order matters.
		wantCalls []string
		inOrder   []string
		notCalled []string
	}{
		"a failed pool skips its queues, not other pools'": {
			plan: func(t *testing.T) *plan.Plan { return scenario(t) },
			fail: map[string]error{"CreatePool gbif": boom},
			wantStatus: map[string]apply.Status{
				`WorkPool "gbif"`:          apply.Failed,
				`WorkQueue "gbif/urgent"`:  apply.Skipped,
				`WorkQueue "gbif/default"`: apply.Skipped,
				`WorkPool "cpu"`:           apply.Applied,
				`WorkQueue "cpu/batch"`:    apply.Applied,
				`WorkPool "gone"`:          apply.Applied,
			},
			wantError: map[string]string{
				`WorkPool "gbif"`:          "422 Unprocessable Entity",
				`WorkQueue "gbif/urgent"`:  `depends on WorkPool "gbif"`,
				`WorkQueue "gbif/default"`: `depends on WorkPool "gbif"`,
			},
			notCalled: []string{"CreateQueue gbif/urgent", "UpdateQueue gbif/default {description,priority}"},
		},
		"a failed Kubernetes object skips the pool that requires it": {
			plan: func(t *testing.T) *plan.Plan { return scenario(t) },
			fail: map[string]error{`Apply Secret "prefect/prefect-basic-auth"`: boom},
			wantStatus: map[string]apply.Status{
				`Secret "prefect/prefect-basic-auth"`: apply.Failed,
				`WorkPool "gbif"`:                     apply.Skipped,
				`WorkQueue "gbif/urgent"`:             apply.Skipped,
				`WorkPool "cpu"`:                      apply.Applied,
			},
			wantError: map[string]string{
				`WorkPool "gbif"`:         `depends on Secret "prefect/prefect-basic-auth"`,
				`WorkQueue "gbif/urgent"`: `depends on WorkPool "gbif"`,
			},
			notCalled: []string{"CreatePool gbif"},
		},
		"a replace without AllowReplace fails and deletes nothing": {
			plan: replacePlan,
			wantStatus: map[string]apply.Status{
				`WorkPool "mem"`:          apply.Failed,
				`WorkQueue "mem/batch"`:   apply.Skipped,
				`WorkPool "other"`:        apply.Applied,
				`WorkQueue "mem/default"`: apply.Skipped,
			},
			wantError: map[string]string{`WorkPool "mem"`: "--allow-replace"},
			wantCalls: []string{"UpdatePool other {description}"},
		},
		"a replace with AllowReplace deletes, then creates": {
			plan:         replacePlan,
			allowReplace: true,
			wantStatus: map[string]apply.Status{
				`WorkPool "mem"`:          apply.Applied,
				`WorkQueue "mem/default"`: apply.Applied,
				`WorkQueue "mem/batch"`:   apply.Applied,
			},
			wantCalls: []string{"DeletePool mem", "CreatePool mem", "UpdatePool other {description}",
				"CreateQueue mem/batch", "UpdateQueue mem/default {priority}"},
			inOrder: []string{"DeletePool mem", "CreatePool mem", "CreateQueue mem/batch", "UpdateQueue mem/default {priority}"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := tc.plan(t)
			rec := &recorder{fail: tc.fail}
			tg := rec.targets()
			tg.AllowReplace = tc.allowReplace
			results := apply.Execute(context.Background(), p, tg)
			byKey := map[string]apply.Result{}
			for _, r := range results {
				byKey[r.Key.String()] = r
			}
			for k, st := range tc.wantStatus {
				if byKey[k].Status != st {
					t.Errorf("%s: %s (%s), want %s", k, byKey[k].Status, byKey[k].Error, st)
				}
			}
			for k, msg := range tc.wantError {
				if !strings.Contains(byKey[k].Error, msg) {
					t.Errorf("%s: error %q lacks %q", k, byKey[k].Error, msg)
				}
				if byKey[k].Status == apply.Failed && byKey[k].Err() == nil {
					t.Errorf("%s: failed without Err()", k)
				}
			}
			calls := rec.log()
			for _, c := range tc.notCalled {
				for _, got := range calls {
					if got == c {
						t.Errorf("%s was called after what it depends on failed", c)
					}
				}
			}
			if tc.wantCalls != nil && !sameSet(calls, tc.wantCalls) {
				t.Errorf("calls %q, want %q in any order", calls, tc.wantCalls)
			}
			for i := 1; i < len(tc.inOrder); i++ {
				if index(calls, tc.inOrder[i-1]) > index(calls, tc.inOrder[i]) {
					t.Errorf("%q came before %q: %q", tc.inOrder[i], tc.inOrder[i-1], calls)
				}
			}
		})
	}
}

// replacePlan changes the type of pool "mem" (with a declared default queue
// and another queue) and the description of pool "other".
func replacePlan(t *testing.T) *plan.Plan {
	t.Helper()
	desired, live := state.New(), state.New()
	desired.AddPool(&state.Pool{Name: "mem", Type: "process"})
	desired.AddQueue(&state.Queue{Pool: "mem", Name: "default", Priority: ptr(2)})
	desired.AddQueue(&state.Queue{Pool: "mem", Name: "batch", Priority: ptr(1)})
	desired.AddPool(&state.Pool{Name: "other", Type: "process", Description: ptr("new")})
	live.AddPool(&state.Pool{Name: "mem", Type: "kubernetes"})
	live.AddQueue(&state.Queue{Pool: "mem", Name: "default", Priority: ptr(1)})
	live.AddQueue(&state.Queue{Pool: "mem", Name: "batch", Priority: ptr(2)})
	live.AddPool(&state.Pool{Name: "other", Type: "process", Description: ptr("old")})
	p, err := plan.Compute(desired, live, plan.Options{Set: "s", Owned: func(state.Key) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	if p.Changes[0].Action != plan.Replace {
		t.Fatalf("first change %s %s, want a replace", p.Changes[0].Action, p.Changes[0].Key)
	}
	return p
}

// The default queue of a new pool exists as soon as the pool does: applying
// it updates the queue with the patch, and sends nothing when there is none.
func TestExecuteImplicitDefaultQueue(t *testing.T) {
	p := &plan.Plan{Version: plan.FormatVersion, Set: "s", Changes: []plan.Change{
		{Key: state.PoolKey("a"), Action: plan.Create, Pool: &state.Pool{Name: "a", Type: "process"}},
		{Key: state.PoolKey("b"), Action: plan.Create, Pool: &state.Pool{Name: "b", Type: "process"}},
		{Key: state.QueueKey("a", "default"), Action: plan.Create, Implicit: true,
			Queue:     &state.Queue{Pool: "a", Name: "default", Priority: ptr(3), ConcurrencyLimit: ptr(2)},
			Updates:   state.FieldPriority | state.FieldConcurrencyLimit,
			DependsOn: []state.Key{state.PoolKey("a")}},
		{Key: state.QueueKey("b", "default"), Action: plan.Create, Implicit: true,
			Queue: &state.Queue{Pool: "b", Name: "default"}, DependsOn: []state.Key{state.PoolKey("b")}},
	}}
	var updates []state.QueueUpdate
	rec := &recorder{}
	tg := rec.targets()
	base := tg.Prefect.(*fakePrefect)
	update := base.UpdateQueueFn
	base.UpdateQueueFn = func(ctx context.Context, pool, name string, u state.QueueUpdate) error {
		updates = append(updates, u)
		return update(ctx, pool, name, u)
	}
	results := apply.Execute(context.Background(), p, tg)
	want := []string{"CreatePool a", "CreatePool b", "UpdateQueue a/default {concurrencyLimit,priority}"}
	if got := rec.log(); !sameSet(got, want) || got[2] != want[2] {
		t.Errorf("calls %q, want %q, the queue last", got, want)
	}
	if want := (state.QueueUpdate{Fields: state.FieldPriority | state.FieldConcurrencyLimit, Queue: p.Changes[2].Queue}); len(updates) != 1 || updates[0] != want {
		t.Errorf("updates sent: %+v", updates)
	}
	for _, r := range results[2:] {
		if r.Status != apply.Applied || !r.Implicit || r.Action != plan.Create {
			t.Errorf("%s: %+v, want applied, implicit create", r.Key, r)
		}
	}
}

func TestExecuteInterrupted(t *testing.T) {
	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rec := &recorder{}
		results := apply.Execute(ctx, scenario(t), rec.targets())
		if calls := rec.log(); len(calls) != 0 {
			t.Errorf("calls after cancel: %q", calls)
		}
		for _, r := range results {
			if r.Status != apply.Skipped || !errors.Is(r.Err(), apply.ErrInterrupted) || !strings.Contains(r.Error, "interrupted") {
				t.Errorf("%s: %s %q, want skipped as interrupted", r.Key, r.Status, r.Error)
			}
		}
	})
	t.Run("cancelled while applying", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rec := &recorder{hook: func(_ context.Context, call string) {
			if strings.HasPrefix(call, "Apply ServiceAccount") {
				cancel()
			}
		}}
		p := scenario(t)
		results := apply.Execute(ctx, p, rec.targets())
		want := []string{`Apply Namespace "prefect"`, `Apply ServiceAccount "prefect/prefect-worker"`}
		if got := rec.log(); !reflect.DeepEqual(got, want) {
			t.Errorf("calls %q, want %q", got, want)
		}
		for i, r := range results {
			if i < 2 {
				if r.Status != apply.Applied {
					t.Errorf("%s: %s, want applied (it ran before the cancel)", r.Key, r.Status)
				}
				continue
			}
			// Every change not started, dependents of skipped ones
			// included, says the run was interrupted.
			if r.Status != apply.Skipped || !errors.Is(r.Err(), apply.ErrInterrupted) {
				t.Errorf("%s: %s %q, want skipped as interrupted", r.Key, r.Status, r.Error)
			}
		}
	})
}

// Progress hears of every change exactly once, one call at a time (the CLI
// prints from it), and the results come back in plan order.
func TestExecuteProgressAndResultOrder(t *testing.T) {
	p := scenario(t)
	rec := &recorder{fail: map[string]error{"CreatePool gbif": errors.New("boom")}}
	tg := rec.targets()
	tg.Concurrency = 8
	var inside atomic.Int32
	seen := map[state.Key]int{}
	tg.Progress = func(r apply.Result) {
		if inside.Add(1) > 1 {
			t.Errorf("Progress called concurrently")
		}
		seen[r.Key]++
		time.Sleep(100 * time.Microsecond)
		inside.Add(-1)
	}
	results := apply.Execute(context.Background(), p, tg)
	pending := p.Pending()
	if len(results) != len(pending) {
		t.Fatalf("%d results for %d pending changes", len(results), len(pending))
	}
	for i, c := range pending {
		if results[i].Key != c.Key || results[i].Action != c.Action {
			t.Errorf("result %d is %s %s, want %s %s", i, results[i].Action, results[i].Key, c.Action, c.Key)
		}
		if seen[c.Key] != 1 {
			t.Errorf("Progress heard of %s %d times", c.Key, seen[c.Key])
		}
	}
	if len(seen) != len(pending) {
		t.Errorf("Progress heard of %d changes, want %d", len(seen), len(pending))
	}
	for _, r := range results {
		if r.Status == apply.Applied && r.Duration <= 0 {
			t.Errorf("%s: applied with no duration", r.Key)
		}
	}
}

// No-ops, orphans and unmanaged objects are not applied and yield no
// result; Secrets get their values; a missing target fails its changes.
func TestExecuteTargets(t *testing.T) {
	sec := object("v1", "Secret", "prefect", "auth")
	secKey := state.ObjectKey(sec)
	p := &plan.Plan{Version: plan.FormatVersion, Set: "s", Changes: []plan.Change{
		{Key: secKey, Action: plan.Create, Object: sec},
		{Key: state.PoolKey("same"), Action: plan.NoOp},
		{Key: state.PoolKey("theirs"), Action: plan.Unmanaged, Unowned: true},
		{Key: state.PoolKey("a"), Action: plan.Update, Pool: &state.Pool{Name: "a", Paused: ptr(true)}, Updates: state.FieldPaused},
		{Key: state.PoolKey("left"), Action: plan.Orphan},
	}}
	var got map[string][]byte
	data := map[state.Key]map[string][]byte{secKey: {"token": []byte("value")}}
	tg := apply.Targets{SecretData: data, Kubernetes: &fakeKube{ApplyFn: func(_ context.Context, _ *unstructured.Unstructured, d map[string][]byte) error {
		got = d
		return nil
	}}}
	results := apply.Execute(context.Background(), p, tg)
	if len(results) != 2 {
		t.Fatalf("%d results, want 2 (the secret and the pool update): %+v", len(results), results)
	}
	if string(got["token"]) != "value" {
		t.Errorf("Apply got data %q", got)
	}
	if r := results[1]; r.Status != apply.Failed || !strings.Contains(r.Error, "no Prefect connection") {
		t.Errorf("pool update without a Prefect target: %+v", r)
	}
}
