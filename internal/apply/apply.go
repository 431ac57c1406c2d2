// Package apply executes a Plan: Kubernetes objects first, by the rank of
// their kind (state.Kinds: namespaces, their quotas and limit ranges,
// service accounts, roles, bindings, secrets and volumes), then pools, then
// queues by ascending priority; deletions last, in reverse. Changes of one
// level run concurrently under a bound; a failure skips the changes that
// depend on it, not the rest, and every change yields a Result.
package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// Prefect is what apply needs of a Prefect server.
type Prefect interface {
	CreatePool(ctx context.Context, p *state.Pool) error
	UpdatePool(ctx context.Context, name string, u state.PoolUpdate) error
	DeletePool(ctx context.Context, name string) error
	CreateQueue(ctx context.Context, q *state.Queue) error
	UpdateQueue(ctx context.Context, pool, name string, u state.QueueUpdate) error
	DeleteQueue(ctx context.Context, pool, name string) error
}

// Kubernetes is what apply needs of a cluster.
type Kubernetes interface {
	// Apply server-side applies an object; data holds a Secret's values.
	Apply(ctx context.Context, obj *unstructured.Unstructured, data map[string][]byte) error
	Delete(ctx context.Context, key state.Key) error
	// Replace deletes the object and, once it is gone, creates it again.
	Replace(ctx context.Context, obj *unstructured.Unstructured, data map[string][]byte) error
}

// Targets are the servers and settings a plan is applied with.
type Targets struct {
	Prefect    Prefect
	Kubernetes Kubernetes
	// SecretData holds the desired Secrets' values by key.
	SecretData map[state.Key]map[string][]byte
	// AllowReplace permits deleting and recreating pools whose type changed
	// and Kubernetes objects whose immutable fields changed.
	AllowReplace bool
	// Concurrency bounds the changes in flight (default 8): the ceiling
	// of a window that adapts to the servers when Overloads is set.
	Concurrency int
	// Overloads counts the answers of the servers that said they were
	// overloaded (429, 503, timeouts), across both clients: a rise halves
	// the changes in flight. Nil keeps Concurrency changes in flight.
	Overloads func() int64
	// Progress, when set, is called as each change finishes, one call at
	// a time.
	Progress func(Result)
	// Grace is how long a change already started may still take once ctx
	// ends (default 15s): an interrupt starts nothing new but lets the
	// requests in flight finish, so the report can say what was applied.
	Grace time.Duration
}

// Status is how a change ended.
type Status string

const (
	Applied Status = "applied"
	Failed  Status = "failed"
	Skipped Status = "skipped"
)

// Result is the outcome of one change.
type Result struct {
	Key    state.Key   `json:"key"`
	Action plan.Action `json:"action"`
	Status Status      `json:"status"`
	// Implicit marks a default queue the server created with its pool.
	Implicit bool          `json:"implicit,omitempty"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"durationNs"`
	err      error
}

// Err returns the error of a failed change.
func (r Result) Err() error { return r.err }

// ErrInterrupted marks changes not started because the context ended.
var ErrInterrupted = errors.New("not started: interrupted")

// defaultGrace is Targets.Grace when unset: well inside the 30 seconds
// Kubernetes waits between SIGTERM and SIGKILL.
const defaultGrace = 15 * time.Second

// inFlight returns the context a started change runs with: it ends grace
// after ctx does, not at once, so that a request cut off midway does not
// leave the report unsure whether it was applied.
func inFlight(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		timer := time.AfterFunc(grace, cancel)
		context.AfterFunc(run, func() { timer.Stop() })
	})
	return run, func() { stop(); cancel() }
}

// Execute applies the plan's pending changes and returns one Result per
// change, in plan order.
func Execute(ctx context.Context, p *plan.Plan, t Targets) []Result {
	changes := p.Pending()
	limit := t.Concurrency
	if limit <= 0 {
		limit = 8
	}
	grace := t.Grace
	if grace <= 0 {
		grace = defaultGrace
	}
	e := &execution{ctx: ctx, changes: changes, t: t, grace: grace, lim: newLimiter(limit, t.Overloads),
		results: make([]Result, len(changes)), status: map[state.Key]Status{}}
	for start := 0; start < len(changes); {
		end := start
		for end < len(changes) && plan.Rank(changes[end]) == plan.Rank(changes[start]) {
			end++
		}
		var wg sync.WaitGroup
		for _, g := range levelGroups(changes, start, end) {
			wg.Add(1)
			go func(g []int) {
				defer wg.Done()
				for _, i := range g {
					e.finish(i, e.run(changes[i]))
				}
			}(g)
		}
		wg.Wait()
		start = end
	}
	return e.results
}

// levelGroups splits the changes of one level (start to end) into groups
// that run concurrently: the queues of one pool run in order, one group
// (priorities shift on the server); everything else alone.
func levelGroups(changes []plan.Change, start, end int) [][]int {
	var groups [][]int
	byPool := map[string]int{}
	for i := start; i < end; i++ {
		c := changes[i]
		if c.Key.Kind == state.KindWorkQueue {
			if g, ok := byPool[c.Key.Namespace]; ok {
				groups[g] = append(groups[g], i)
				continue
			}
			byPool[c.Key.Namespace] = len(groups)
		}
		groups = append(groups, []int{i})
	}
	return groups
}

// execution is one Execute: the results so far, by position and by key.
type execution struct {
	ctx     context.Context
	changes []plan.Change
	t       Targets
	grace   time.Duration
	lim     *limiter // bounds the changes in flight

	mu      sync.Mutex
	results []Result
	status  map[state.Key]Status
	// progress serialises the Progress calls: changes finish
	// concurrently, and a callback that prints must not interleave.
	progress sync.Mutex
}

func (e *execution) finish(i int, r Result) {
	e.mu.Lock()
	e.results[i] = r
	e.status[r.Key] = r.Status
	e.mu.Unlock()
	if e.t.Progress != nil {
		e.progress.Lock()
		e.t.Progress(r)
		e.progress.Unlock()
	}
}

// blocked names a dependency of c that failed or was skipped.
func (e *execution) blocked(c plan.Change) (state.Key, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, d := range c.DependsOn {
		if s := e.status[d]; s == Failed || s == Skipped {
			return d, true
		}
	}
	return state.Key{}, false
}

// run applies one change when it may, and says what became of it.
func (e *execution) run(c plan.Change) Result {
	interrupted := Result{Key: c.Key, Action: c.Action, Status: Skipped, Error: ErrInterrupted.Error(), err: ErrInterrupted}
	// Once interrupted, every change not started says so, those whose
	// dependencies were skipped included.
	if e.ctx.Err() != nil {
		return interrupted
	}
	if dep, ok := e.blocked(c); ok {
		return Result{Key: c.Key, Action: c.Action, Status: Skipped, Error: fmt.Sprintf("not applied: it depends on %s, which was not applied", dep)}
	}
	from, ok := e.lim.acquire(e.ctx)
	if !ok || e.ctx.Err() != nil { // interrupted while waiting for a slot
		if ok {
			e.lim.release(from)
		}
		return interrupted
	}
	began := time.Now()
	run, done := inFlight(e.ctx, e.grace)
	err := apply(run, c, e.t)
	cut := run.Err() != nil // the grace ran out
	done()
	e.lim.release(from)
	r := Result{Key: c.Key, Action: c.Action, Status: Applied, Implicit: c.Implicit, Duration: time.Since(began)}
	if err != nil && cut {
		err = fmt.Errorf("interrupted: still in flight %s after the interrupt, so cut off (it may or may not have been applied; sync again converges): %w", e.grace, err)
	}
	if err != nil {
		r.Status, r.Error, r.err = Failed, err.Error(), err
	}
	return r
}

func apply(ctx context.Context, c plan.Change, t Targets) error {
	switch c.Key.System {
	case state.Prefect:
		if t.Prefect == nil {
			return errors.New("no Prefect connection")
		}
		return applyPrefect(ctx, c, t)
	case state.Kubernetes:
		if t.Kubernetes == nil {
			return errors.New("no Kubernetes connection")
		}
		switch c.Action {
		case plan.Create, plan.Update:
			return t.Kubernetes.Apply(ctx, c.Object, t.SecretData[c.Key])
		case plan.Replace:
			if !t.AllowReplace && !c.Terminating {
				return fmt.Errorf("replacing %s needs --allow-replace", c.Key)
			}
			return t.Kubernetes.Replace(ctx, c.Object, t.SecretData[c.Key])
		case plan.Delete:
			return t.Kubernetes.Delete(ctx, c.Key)
		}
	}
	return fmt.Errorf("cannot %s %s", c.Action, c.Key)
}

func applyPrefect(ctx context.Context, c plan.Change, t Targets) error {
	p := t.Prefect
	switch c.Key.Kind {
	case state.KindWorkPool:
		switch c.Action {
		case plan.Create:
			return p.CreatePool(ctx, c.Pool)
		case plan.Update:
			return p.UpdatePool(ctx, c.Key.Name, state.PoolUpdate{Fields: c.Updates, Pool: c.Pool})
		case plan.Replace:
			if !t.AllowReplace {
				return fmt.Errorf("replacing %s needs --allow-replace", c.Key)
			}
			if err := p.DeletePool(ctx, c.Key.Name); err != nil {
				return err
			}
			return p.CreatePool(ctx, c.Pool)
		case plan.Delete:
			return p.DeletePool(ctx, c.Key.Name)
		}
	case state.KindWorkQueue:
		pool, name := c.Key.Namespace, c.Key.Name
		switch {
		case c.Action == plan.Create && c.Implicit:
			if c.Updates == 0 {
				return nil
			}
			return p.UpdateQueue(ctx, pool, name, state.QueueUpdate{Fields: c.Updates, Queue: c.Queue})
		case c.Action == plan.Create:
			return p.CreateQueue(ctx, c.Queue)
		case c.Action == plan.Update:
			return p.UpdateQueue(ctx, pool, name, state.QueueUpdate{Fields: c.Updates, Queue: c.Queue})
		case c.Action == plan.Delete:
			return p.DeleteQueue(ctx, pool, name)
		}
	}
	return fmt.Errorf("cannot %s %s", c.Action, c.Key)
}
