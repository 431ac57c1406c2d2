package plan_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// defaultQueueDescription is what the server gives the queue it creates
// with every pool.
const defaultQueueDescription = "The work pool's default queue."

// server is an in-test Prefect server for pools and queues: it applies a
// plan's changes as the API would, and fails on what the API would refuse
// (creating what exists, updating or deleting what does not).
type server struct {
	live  *state.State
	owned map[state.Key]bool
}

func (s *server) apply(t *testing.T, p *plan.Plan) {
	t.Helper()
	for _, c := range p.Pending() {
		k := c.Key
		switch {
		case k.Kind == state.KindWorkPool && c.Action == plan.Create:
			if _, ok := s.live.Pools[k.Name]; ok {
				t.Fatalf("create of existing %s", k)
			}
			s.createPool(c.Pool)
		case k.Kind == state.KindWorkPool && c.Action == plan.Replace:
			if _, ok := s.live.Pools[k.Name]; !ok {
				t.Fatalf("replace of missing %s", k)
			}
			s.deletePool(k.Name)
			s.createPool(c.Pool)
		case k.Kind == state.KindWorkPool && c.Action == plan.Update:
			pool, ok := s.live.Pools[k.Name]
			if !ok {
				t.Fatalf("update of missing %s", k)
			}
			for f, v := range sentBody(c) {
				switch f {
				case "description":
					pool.Description = ptr(v.(string))
				case "is_paused":
					pool.Paused = ptr(v.(bool))
				case "concurrency_limit":
					pool.ConcurrencyLimit = intOrNil(v)
				case "base_job_template":
					pool.BaseJobTemplate = viaJSON(v)
				default:
					t.Fatalf("unknown pool field %q", f)
				}
			}
		case k.Kind == state.KindWorkPool && c.Action == plan.Delete:
			if _, ok := s.live.Pools[k.Name]; !ok {
				t.Fatalf("delete of missing %s", k)
			}
			s.deletePool(k.Name)
		case k.Kind == state.KindWorkQueue && (c.Action == plan.Update || c.Action == plan.Create && c.Implicit):
			q, ok := s.live.Queues[k]
			if !ok {
				t.Fatalf("%s of missing %s (implicit %v)", c.Action, k, c.Implicit)
			}
			for f, v := range sentBody(c) {
				switch f {
				case "description":
					q.Description = ptr(v.(string))
				case "is_paused":
					q.Paused = ptr(v.(bool))
				case "concurrency_limit":
					q.ConcurrencyLimit = intOrNil(v)
				case "priority":
					q.Priority = intOrNil(v)
				default:
					t.Fatalf("unknown queue field %q", f)
				}
			}
		case k.Kind == state.KindWorkQueue && c.Action == plan.Create:
			if _, ok := s.live.Pools[k.Namespace]; !ok {
				t.Fatalf("create of %s in a missing pool", k)
			}
			if _, ok := s.live.Queues[k]; ok {
				t.Fatalf("create of existing %s", k)
			}
			q := *c.Queue
			if q.Priority == nil {
				q.Priority = ptr(s.freePriority(k.Namespace))
			}
			if q.Paused == nil {
				q.Paused = ptr(false)
			}
			s.live.AddQueue(&q)
		case k.Kind == state.KindWorkQueue && c.Action == plan.Delete:
			if _, ok := s.live.Queues[k]; !ok {
				t.Fatalf("delete of missing %s", k)
			}
			if k.Name == plan.DefaultQueue {
				t.Fatalf("delete of a default queue: %s", k)
			}
			delete(s.live.Queues, k)
		default:
			t.Fatalf("cannot apply %s %s", c.Action, k)
		}
		// As sync records ownership.
		if c.Action == plan.Delete {
			delete(s.owned, k)
		} else {
			s.owned[k] = true
		}
	}
}

func (s *server) createPool(p *state.Pool) {
	np := *p
	np.Requires = nil
	if np.Paused == nil {
		np.Paused = ptr(false)
	}
	if np.BaseJobTemplate == nil {
		np.BaseJobTemplate = map[string]any{"job_configuration": map[string]any{}, "variables": map[string]any{}}
	} else {
		np.BaseJobTemplate = viaJSON(np.BaseJobTemplate)
	}
	s.live.AddPool(&np)
	s.live.AddQueue(&state.Queue{Pool: p.Name, Name: plan.DefaultQueue, Priority: ptr(1), Paused: ptr(false), Description: ptr(defaultQueueDescription)})
}

func (s *server) deletePool(name string) {
	delete(s.live.Pools, name)
	for k, q := range s.live.Queues {
		if q.Pool == name {
			delete(s.live.Queues, k)
			delete(s.owned, k)
		}
	}
	delete(s.owned, state.PoolKey(name))
}

func (s *server) freePriority(pool string) int {
	taken := map[int]bool{}
	for _, q := range s.live.QueuesByPool()[pool] {
		if q.Priority != nil {
			taken[*q.Priority] = true
		}
	}
	for i := 1; ; i++ {
		if !taken[i] {
			return i
		}
	}
}

// sentBody is what applying a pool or queue change sends to the server
// (the Prefect client's translation of its update), nil for no update.
func sentBody(c plan.Change) map[string]any {
	switch {
	case c.Updates == 0:
		return nil
	case c.Key.Kind == state.KindWorkPool:
		return prefect.PoolFields(c.Pool, c.Updates)
	default:
		return prefect.QueueFields(c.Queue, c.Updates)
	}
}

func intOrNil(v any) *int {
	if v == nil {
		return nil
	}
	return ptr(v.(int))
}

func viaJSON(v any) map[string]any {
	raw, _ := json.Marshal(v)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

func pick[T any](r *rand.Rand, options ...T) T { return options[r.Intn(len(options))] }

// randomTemplate is a small template; desired ones use Go ints, live ones
// come through JSON.
func randomTemplate(r *rand.Rand) map[string]any {
	return map[string]any{
		"job_configuration": map[string]any{"image": "{{ image }}", "ttl": pick(r, 60, 3600)},
		"variables":         map[string]any{"properties": map[string]any{"image": map[string]any{"default": pick(r, "a:1", "a:2")}}},
	}
}

func randomStates(r *rand.Rand) (desired, live *state.State, owned map[state.Key]bool) {
	desired, live, owned = state.New(), state.New(), map[state.Key]bool{}
	pools := []string{"cpu", "gpu", "mem", "io"}
	queues := []string{"default", "urgent", "batch", "low"}
	optStr := func() *string { return pick(r, nil, ptr(""), ptr("x"), ptr("y")) }
	optBool := func() *bool { return pick(r, nil, ptr(false), ptr(true)) }
	optInt := func() *int { return pick(r, nil, ptr(0), ptr(3)) }
	for _, name := range pools {
		if r.Intn(3) > 0 {
			p := &state.Pool{Name: name, Type: pick(r, "process", "kubernetes"), Description: optStr(), Paused: optBool(), ConcurrencyLimit: optInt()}
			if r.Intn(2) == 0 {
				p.BaseJobTemplate = randomTemplate(r)
			}
			desired.AddPool(p)
			prios := r.Perm(len(queues))
			for i, q := range queues {
				if r.Intn(2) == 0 {
					continue
				}
				dq := &state.Queue{Pool: name, Name: q, Description: optStr(), Paused: optBool(), ConcurrencyLimit: optInt()}
				if r.Intn(4) > 0 {
					dq.Priority = ptr(prios[i] + 1)
				}
				desired.AddQueue(dq)
			}
		}
		if r.Intn(3) > 0 {
			p := &state.Pool{Name: name, Type: pick(r, "process", "kubernetes"), Description: pick(r, nil, ptr("x"), ptr("z")),
				Paused: ptr(r.Intn(2) == 0), ConcurrencyLimit: optInt(), BaseJobTemplate: viaJSON(randomTemplate(r)), Updated: fmt.Sprint("t", r.Intn(100))}
			live.AddPool(p)
			if r.Intn(3) > 0 {
				owned[state.PoolKey(name)] = true
			}
			prios := r.Perm(len(queues))
			for i, q := range queues {
				if q != plan.DefaultQueue && r.Intn(2) == 0 {
					continue // every live pool has its default queue
				}
				lq := &state.Queue{Pool: name, Name: q, Description: pick(r, ptr(""), ptr("x"), ptr(defaultQueueDescription)),
					Paused: ptr(r.Intn(2) == 0), ConcurrencyLimit: optInt(), Priority: ptr(prios[i] + 1)}
				live.AddQueue(lq)
				if r.Intn(3) > 0 {
					owned[state.QueueKey(name, q)] = true
				}
			}
		}
	}
	return desired, live, owned
}

// checkPlan verifies what every plan must satisfy, whatever the states.
func checkPlan(t *testing.T, p *plan.Plan, desired, live *state.State) {
	t.Helper()
	index := map[state.Key]int{}
	for i, c := range p.Changes {
		if _, dup := index[c.Key]; dup {
			t.Fatalf("%s appears twice", c.Key)
		}
		index[c.Key] = i
		if i > 0 {
			prev := p.Changes[i-1]
			if plan.Rank(prev) > plan.Rank(c) {
				t.Errorf("%s %s (rank %d) after %s %s (rank %d)", c.Action, c.Key, plan.Rank(c), prev.Action, prev.Key, plan.Rank(prev))
			}
			// One pool's queues by ascending priority, those without one last.
			if plan.Rank(prev) == plan.Rank(c) && c.Key.Kind == state.KindWorkQueue && prev.Key.Namespace == c.Key.Namespace &&
				prev.Queue != nil && c.Queue != nil && c.Queue.Priority != nil &&
				(prev.Queue.Priority == nil || *c.Queue.Priority < *prev.Queue.Priority) {
				t.Errorf("queue %s ordered after %s, which has a higher priority or none", c.Key, prev.Key)
			}
		}
		for _, d := range c.DependsOn {
			j, ok := index[d]
			if !ok || j >= i {
				t.Errorf("%s depends on %s, which is not earlier in the plan", c.Key, d)
			}
		}
		if c.Key.Kind == state.KindWorkQueue && c.Key.Name == plan.DefaultQueue && (c.Action == plan.Delete || c.Action == plan.Orphan) {
			t.Errorf("default queue %s: %s", c.Key, c.Action)
		}
		if c.Key.Kind == state.KindWorkQueue && c.Action != plan.Create {
			if pc, ok := index[state.PoolKey(c.Key.Namespace)]; ok && (p.Changes[pc].Action == plan.Delete || p.Changes[pc].Action == plan.Orphan || p.Changes[pc].Action == plan.Replace) {
				t.Errorf("%s %s listed although its pool is %s", c.Action, c.Key, p.Changes[pc].Action)
			}
		}
		// Only fields that differ are sent.
		for f, v := range sentBody(c) {
			var old any
			switch k := c.Key; {
			case c.Implicit:
				continue // compared with the server's new default queue
			case f == "priority" && strings.HasPrefix(c.Reason, "priority set again"):
				continue // the server shifts it before it is applied
			case k.Kind == state.KindWorkPool:
				l := live.Pools[k.Name]
				old = map[string]any{"description": deref(l.Description), "is_paused": deref(l.Paused), "concurrency_limit": derefOrNil(l.ConcurrencyLimit), "base_job_template": l.BaseJobTemplate}[f]
			case k.Kind == state.KindWorkQueue:
				l := live.Queues[k]
				old = map[string]any{"description": deref(l.Description), "is_paused": deref(l.Paused), "concurrency_limit": derefOrNil(l.ConcurrencyLimit), "priority": derefOrNil(l.Priority)}[f]
			}
			if reflect.DeepEqual(viaJSON(map[string]any{"v": old}), viaJSON(map[string]any{"v": v})) {
				t.Errorf("%s: patch sends %s = %v, which it already is", c.Key, f, v)
			}
		}
		if sent := sentBody(c); len(sent) > len(c.Fields) {
			t.Errorf("%s: patch %v has more entries than the fields shown %v", c.Key, sent, c.Fields)
		}
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func derefOrNil(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// For random desired and live states, applying the plan to live and
// planning again leaves nothing to write.
func TestApplyingThePlanConverges(t *testing.T) {
	r := rand.New(rand.NewSource(20261126))
	for i := 0; i < 250; i++ {
		desired, live, owned := randomStates(r)
		opts := plan.Options{Set: "s", Prune: r.Intn(2) == 0, Adopt: r.Intn(2) == 0}
		srv := &server{live: live, owned: owned}
		opts.Owned = func(k state.Key) bool { return srv.owned[k] }
		p := compute(t, desired, live, opts)
		checkPlan(t, p, desired, live)
		if t.Failed() {
			t.Fatalf("case %d: plan\n%s", i, dump(p))
		}
		srv.apply(t, p)
		again := compute(t, desired, srv.live, opts)
		if pending := again.Pending(); len(pending) > 0 {
			t.Fatalf("case %d: still pending after applying:\n%s\nfirst plan:\n%s", i, dump(again), dump(p))
		}
		// A third plan is the same as the second: nothing moves.
		third := compute(t, desired, srv.live, opts)
		if !reflect.DeepEqual(keys(again), keys(third)) {
			t.Fatalf("case %d: plans differ: %v vs %v", i, keys(again), keys(third))
		}
	}
}

func dump(p *plan.Plan) string {
	var lines []string
	for _, c := range p.Changes {
		line := fmt.Sprintf("%s %s implicit=%v", c.Action, c.Key, c.Implicit)
		for _, f := range c.Fields {
			line += fmt.Sprintf(" [%s %v→%v]", f.Path, f.Old, f.New)
		}
		if c.Updates != 0 {
			line += fmt.Sprintf(" updates=%s", c.Updates)
		}
		lines = append(lines, line)
	}
	out := ""
	for _, l := range lines {
		out += "  " + l + "\n"
	}
	return out
}
