package apply_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/apply"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// narrowServer takes width writes at a time, as a Prefect server on SQLite
// takes one: a write beyond that is answered "overloaded" (503) and sent
// again by the client after a pause that doubles each time, at most retries
// times, as the real client does (5 times, from 0.5 s); then it fails.
type narrowServer struct {
	width, retries int
	inflight       atomic.Int32
	overloads      atomic.Int64
	mu             sync.Mutex
	peak           int32
}

func (s *narrowServer) create(ctx context.Context, _ *state.Pool) error {
	for attempt := 0; ; attempt++ {
		n := s.inflight.Add(1)
		s.mu.Lock()
		s.peak = max(s.peak, n)
		s.mu.Unlock()
		if int(n) <= s.width {
			time.Sleep(3 * time.Millisecond)
			s.inflight.Add(-1)
			return nil
		}
		s.inflight.Add(-1)
		s.overloads.Add(1)
		if attempt == s.retries {
			return errors.New("503 Service Unavailable")
		}
		time.Sleep(time.Millisecond << attempt)
	}
}

func manyPools(n int) *plan.Plan {
	p := &plan.Plan{Version: plan.FormatVersion, Set: "s"}
	for i := range n {
		name := fmt.Sprintf("pool-%03d", i)
		p.Changes = append(p.Changes, plan.Change{Key: state.PoolKey(name), Action: plan.Create, Pool: &state.Pool{Name: name, Type: "process"}})
	}
	return p
}

func failures(results []apply.Result) int {
	n := 0
	for _, r := range results {
		if r.Status != apply.Applied {
			n++
		}
	}
	return n
}

// With the overload signal, the changes in flight narrow to what the
// server takes, nothing fails and few answers are overloaded; a fixed
// window of 8 against the same server, without the signal, loses changes.
func TestConcurrencyAdaptsToAnOverloadedServer(t *testing.T) {
	const changes = 200
	adaptive := &narrowServer{width: 1, retries: 5}
	results := apply.Execute(context.Background(), manyPools(changes), apply.Targets{
		Prefect: &fakePrefect{CreatePoolFn: adaptive.create}, Concurrency: 8, Overloads: adaptive.overloads.Load})
	if n := failures(results); n != 0 {
		t.Errorf("adaptive: %d of %d changes failed (%d overloaded answers)", n, changes, adaptive.overloads.Load())
	}
	// Each overload costs a change a retry's wait: once the width is
	// learned, it is tried again only every probeAfter (500) changes.
	if n := adaptive.overloads.Load(); n > 10 {
		t.Errorf("adaptive: %d overloaded answers for %d changes; the window keeps probing", n, changes)
	}

	fixed := &narrowServer{width: 1, retries: 5}
	results = apply.Execute(context.Background(), manyPools(changes), apply.Targets{
		Prefect: &fakePrefect{CreatePoolFn: fixed.create}, Concurrency: 8})
	if failures(results) == 0 {
		t.Errorf("the fixed window of 8 lost no change: the server model overloads nothing (%d overloaded answers)", fixed.overloads.Load())
	}
	t.Logf("overloaded answers: adaptive %d, fixed %d; fixed lost %d changes", adaptive.overloads.Load(), fixed.overloads.Load(), failures(results))
}

// Against a server that takes everything, the window grows to the
// ceiling.
func TestConcurrencyGrowsToTheCeiling(t *testing.T) {
	wide := &narrowServer{width: 1000}
	var zero atomic.Int64
	results := apply.Execute(context.Background(), manyPools(200), apply.Targets{
		Prefect: &fakePrefect{CreatePoolFn: wide.create}, Concurrency: 8, Overloads: zero.Load})
	if n := failures(results); n != 0 {
		t.Fatalf("%d failed", n)
	}
	if wide.peak != 8 {
		t.Errorf("peak %d in flight, want the ceiling 8", wide.peak)
	}
}
