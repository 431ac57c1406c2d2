package plan

import (
	"fmt"
	"sort"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// Prefect keeps a pool's queue priorities unique: a queue that takes a
// priority another queue holds pushes that queue, and those after it, up
// by one (bulk_update_work_queue_priorities in the server). A declared
// queue whose priority is already right can so be moved by a queue applied
// before it, and one sync would not converge. settlePriorities replays the
// pool's queue changes in apply order against the live priorities, as the
// server will, and sets the priority again of every declared queue the
// replay moves.
func (c *computer) settlePriorities(changes []Change) {
	pools := map[string]*prioritySim{}
	for i := range changes {
		ch := &changes[i]
		if ch.Key.Kind != state.KindWorkQueue || ch.Queue == nil ||
			ch.Action == Delete || ch.Action == Orphan || ch.Action == Unmanaged {
			continue
		}
		sim := pools[ch.Key.Namespace]
		if sim == nil {
			sim = c.newPrioritySim(ch.Key.Namespace)
			pools[ch.Key.Namespace] = sim
		}
		name, want := ch.Key.Name, ch.Queue.Priority
		if ch.Action == Create && !ch.Implicit {
			sim.create(name, want)
			continue
		}
		if !ch.Updates.Has(state.FieldPriority) && want != nil {
			if now, ok := sim.priority(name); ok && now != *want {
				ch.Updates |= state.FieldPriority
				ch.Fields = append(ch.Fields, FieldChange{Path: "priority", Old: *want, New: *want, HasOld: true, HasNew: true})
				ch.Reason = fmt.Sprintf("priority set again: applying the queues before it moves it to %d on the server", now)
				if ch.Action == NoOp {
					ch.Action = Update
				}
			}
		}
		if ch.Updates.Has(state.FieldPriority) {
			sim.set(name, *want)
		}
	}
}

// prioritySim is one pool's queue priorities as the server holds them.
type prioritySim struct {
	queues []*simQueue // by priority
}

type simQueue struct {
	name     string
	priority int
}

// newPrioritySim starts from the live queues, or from the default queue
// alone for a pool that is created or replaced.
func (c *computer) newPrioritySim(pool string) *prioritySim {
	s := &prioritySim{}
	if c.created[pool] || c.replaced[pool] {
		s.queues = []*simQueue{{name: DefaultQueue, priority: 1}}
		return s
	}
	for _, q := range c.liveQueues[pool] {
		p := 0
		if q.Priority != nil {
			p = *q.Priority
		}
		s.queues = append(s.queues, &simQueue{name: q.Name, priority: p})
	}
	sort.SliceStable(s.queues, func(i, j int) bool { return s.queues[i].priority < s.queues[j].priority })
	return s
}

func (s *prioritySim) priority(name string) (int, bool) {
	for _, q := range s.queues {
		if q.name == name {
			return q.priority, true
		}
	}
	return 0, false
}

// create adds a queue: without a priority it takes the first one free
// (else the highest plus one), with one it is placed as set places it.
func (s *prioritySim) create(name string, want *int) {
	if want != nil {
		s.queues = append(s.queues, &simQueue{name: name})
		s.set(name, *want)
		return
	}
	p := 0
	for i, q := range s.queues {
		if q.priority != i+1 {
			p = i + 1
			break
		}
	}
	if p == 0 {
		p = 1
		if n := len(s.queues); n > 0 {
			p = s.queues[n-1].priority + 1
		}
	}
	s.queues = append(s.queues, &simQueue{name: name, priority: p})
	sort.SliceStable(s.queues, func(i, j int) bool { return s.queues[i].priority < s.queues[j].priority })
}

// set gives a queue a priority as the server does: the queue goes before
// the first other queue at or above it, and the others are renumbered
// upwards where they collide.
func (s *prioritySim) set(name string, priority int) {
	var target *simQueue
	others := make([]*simQueue, 0, len(s.queues))
	for _, q := range s.queues {
		if q.name == name {
			target = q
			continue
		}
		others = append(others, q)
	}
	if target == nil {
		return
	}
	target.priority = priority
	placed := false
	for i, q := range others {
		if q.priority >= priority {
			others = append(others[:i], append([]*simQueue{target}, others[i:]...)...)
			placed = true
			break
		}
	}
	last := 0
	for _, q := range others {
		if q.priority <= last {
			last++
			q.priority = last
		} else {
			last = q.priority
		}
	}
	if !placed {
		others = append(others, target)
	}
	s.queues = others
}
