package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// fake records calls; fail names the calls that return an error.
type fake struct {
	mu       sync.Mutex
	calls    []string
	fail     map[string]bool
	delay    time.Duration
	inFlight atomic.Int32
	maxSeen  atomic.Int32
}

var (
	_ Prefect    = (*fake)(nil)
	_ Kubernetes = (*fake)(nil)
)

func (f *fake) call(name string) error {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(f.delay)
	f.mu.Lock()
	f.calls = append(f.calls, name)
	f.mu.Unlock()
	if f.fail[name] {
		return errors.New("boom: " + name)
	}
	return nil
}

func (f *fake) CreatePool(_ context.Context, p *state.Pool) error {
	return f.call("CreatePool " + p.Name)
}
func (f *fake) UpdatePool(_ context.Context, n string, u state.PoolUpdate) error {
	return f.call(fmt.Sprintf("UpdatePool %s {%s}", n, u.Fields))
}
func (f *fake) DeletePool(_ context.Context, n string) error { return f.call("DeletePool " + n) }
func (f *fake) CreateQueue(_ context.Context, q *state.Queue) error {
	return f.call("CreateQueue " + q.Pool + "/" + q.Name)
}
func (f *fake) UpdateQueue(_ context.Context, p, n string, u state.QueueUpdate) error {
	return f.call(fmt.Sprintf("UpdateQueue %s/%s {%s}", p, n, u.Fields))
}
func (f *fake) DeleteQueue(_ context.Context, p, n string) error {
	return f.call("DeleteQueue " + p + "/" + n)
}
func (f *fake) Apply(_ context.Context, o *unstructured.Unstructured, data map[string][]byte) error {
	return f.call(fmt.Sprintf("Apply %s %s keys=%d", o.GetKind(), o.GetName(), len(data)))
}
func (f *fake) Delete(_ context.Context, k state.Key) error {
	return f.call("Delete " + k.Kind + " " + k.Name)
}

func (f *fake) Replace(ctx context.Context, obj *unstructured.Unstructured, data map[string][]byte) error {
	if err := f.Delete(ctx, state.ObjectKey(obj)); err != nil {
		return err
	}
	return f.Apply(ctx, obj, data)
}

func (f *fake) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func obj(kind, name string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": kind}}
	o.SetName(name)
	return o
}

func prio(n int) *int { return &n }

// examplePlan: a namespace, a service account, a pool requiring both, and
// its queues (the default one implicit), plus a deletion.
func examplePlan() *plan.Plan {
	ns := state.Key{System: state.Kubernetes, Kind: "Namespace", Name: "prefect"}
	sa := state.Key{System: state.Kubernetes, Kind: "ServiceAccount", Namespace: "prefect", Name: "worker"}
	pool := state.PoolKey("gpu")
	return &plan.Plan{Version: 1, Set: "s", Changes: []plan.Change{
		{Key: ns, Action: plan.Create, Object: obj("Namespace", "prefect")},
		{Key: sa, Action: plan.Create, Object: obj("ServiceAccount", "worker"), DependsOn: []state.Key{ns}},
		{Key: pool, Action: plan.Create, Pool: &state.Pool{Name: "gpu"}, DependsOn: []state.Key{ns, sa}},
		{Key: state.QueueKey("gpu", "urgent"), Action: plan.Create, Queue: &state.Queue{Pool: "gpu", Name: "urgent", Priority: prio(1)}, DependsOn: []state.Key{pool}},
		{Key: state.QueueKey("gpu", "default"), Action: plan.Create, Implicit: true, Queue: &state.Queue{Pool: "gpu", Name: "default", Priority: prio(2)},
			Updates: state.FieldPriority, DependsOn: []state.Key{pool}},
		{Key: state.PoolKey("old"), Action: plan.Delete},
		{Key: state.PoolKey("same"), Action: plan.NoOp},
	}}
}

func TestExecuteOrderAndResults(t *testing.T) {
	f := &fake{}
	var progress []string
	var mu sync.Mutex
	results := Execute(context.Background(), examplePlan(), Targets{Prefect: f, Kubernetes: f,
		Progress: func(r Result) { mu.Lock(); progress = append(progress, r.Key.Name); mu.Unlock() }})
	want := []string{
		"Apply Namespace prefect keys=0",
		"Apply ServiceAccount worker keys=0",
		"CreatePool gpu",
		"CreateQueue gpu/urgent",
		"UpdateQueue gpu/default {priority}",
		"DeletePool old",
	}
	if got := f.log(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(results) != 6 || len(progress) != 6 {
		t.Fatalf("%d results, %d progress calls; want 6 each (no-ops are not applied)", len(results), len(progress))
	}
	for i, r := range results {
		if r.Status != Applied {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	if !results[4].Implicit {
		t.Errorf("the default queue's result is not marked implicit")
	}
}

func TestFailureSkipsDependentsOnly(t *testing.T) {
	f := &fake{fail: map[string]bool{"Apply ServiceAccount worker keys=0": true}}
	results := Execute(context.Background(), examplePlan(), Targets{Prefect: f, Kubernetes: f})
	status := map[string]Status{}
	for _, r := range results {
		status[r.Key.Name] = r.Status
		if r.Key.Name == "gpu" && !strings.Contains(r.Error, `ServiceAccount "prefect/worker"`) {
			t.Errorf("skip reason does not name the failed dependency: %q", r.Error)
		}
	}
	want := map[string]Status{"prefect": Applied, "worker": Failed, "gpu": Skipped, "urgent": Skipped, "default": Skipped, "old": Applied}
	for k, v := range want {
		if status[k] != v {
			t.Errorf("%s: %s, want %s", k, status[k], v)
		}
	}
	for _, c := range f.log() {
		if strings.Contains(c, "gpu") {
			t.Errorf("a dependent change ran: %s", c)
		}
	}
}

func TestReplaceNeedsPermission(t *testing.T) {
	p := &plan.Plan{Changes: []plan.Change{{Key: state.PoolKey("mem"), Action: plan.Replace, Pool: &state.Pool{Name: "mem", Type: "process"}}}}
	f := &fake{}
	r := Execute(context.Background(), p, Targets{Prefect: f})
	if r[0].Status != Failed || !strings.Contains(r[0].Error, "--allow-replace") || len(f.log()) != 0 {
		t.Errorf("without AllowReplace: %+v, calls %v", r[0], f.log())
	}
	f = &fake{}
	r = Execute(context.Background(), p, Targets{Prefect: f, AllowReplace: true})
	if r[0].Status != Applied || strings.Join(f.log(), ",") != "DeletePool mem,CreatePool mem" {
		t.Errorf("with AllowReplace: %+v, calls %v", r[0], f.log())
	}
}

// A Kubernetes replace needs AllowReplace, unless the object is already
// being deleted: then nothing goes that was not going anyway.
func TestReplaceOfATerminatingObjectNeedsNoPermission(t *testing.T) {
	sa := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": "worker", "namespace": "prefect"}}}
	key := state.ObjectKey(sa)
	for _, terminating := range []bool{false, true} {
		p := &plan.Plan{Changes: []plan.Change{{Key: key, Action: plan.Replace, Object: sa, Terminating: terminating}}}
		f := &fake{}
		r := Execute(context.Background(), p, Targets{Kubernetes: f})
		switch {
		case terminating && (r[0].Status != Applied || strings.Join(f.log(), ",") != "Delete ServiceAccount worker,Apply ServiceAccount worker keys=0"):
			t.Errorf("terminating, without AllowReplace: %+v, calls %v", r[0], f.log())
		case !terminating && (r[0].Status != Failed || !strings.Contains(r[0].Error, "--allow-replace") || len(f.log()) != 0):
			t.Errorf("not terminating, without AllowReplace: %+v, calls %v", r[0], f.log())
		}
	}
}

func TestConcurrencyBoundAndQueueOrder(t *testing.T) {
	p := &plan.Plan{}
	description := "x"
	for i := 0; i < 12; i++ {
		name := fmt.Sprintf("pool-%02d", i)
		p.Changes = append(p.Changes, plan.Change{Key: state.PoolKey(name), Action: plan.Update,
			Pool: &state.Pool{Name: name, Description: &description}, Updates: state.FieldDescription})
	}
	for i := 1; i <= 4; i++ {
		name := fmt.Sprintf("q%d", i)
		p.Changes = append(p.Changes, plan.Change{Key: state.QueueKey("pool-00", name), Action: plan.Create, Queue: &state.Queue{Pool: "pool-00", Name: name, Priority: prio(i)}})
	}
	f := &fake{delay: 20 * time.Millisecond}
	Execute(context.Background(), p, Targets{Prefect: f, Concurrency: 3})
	if m := f.maxSeen.Load(); m > 3 || m < 2 {
		t.Errorf("max in flight = %d, want 2..3 with Concurrency 3", m)
	}
	var queues []string
	for _, c := range f.log() {
		if strings.HasPrefix(c, "CreateQueue") {
			queues = append(queues, c)
		}
	}
	if strings.Join(queues, ",") != "CreateQueue pool-00/q1,CreateQueue pool-00/q2,CreateQueue pool-00/q3,CreateQueue pool-00/q4" {
		t.Errorf("queues of one pool out of priority order: %v", queues)
	}
}

func TestInterruptedChangesAreSkipped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := &fake{}
	results := Execute(ctx, examplePlan(), Targets{Prefect: f, Kubernetes: f})
	for _, r := range results {
		if r.Status != Skipped {
			t.Errorf("%s: %s after the context ended", r.Key, r.Status)
		}
	}
	if len(f.log()) != 0 {
		t.Errorf("calls after the context ended: %v", f.log())
	}
}
