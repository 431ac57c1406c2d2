package reconcile

import (
	"context"
	"fmt"
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/apply"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// prefectReader reads one pool or queue; the real client does.
type prefectReader interface {
	GetPool(ctx context.Context, name string) (*state.Pool, error)
	GetQueue(ctx context.Context, pool, name string) (*state.Queue, error)
}

// settling is the Prefect target sync applies with. A create answered
// 409 (the name was taken after the plan was made: another sync of the same
// file running at the same time, say) is read back and counts as applied
// when the object now matches the file; otherwise the error names the
// fields that differ.
type settling struct {
	apply.Prefect
	read prefectReader
}

// settle decorates a Prefect target with the settling of 409 answers,
// where the client can read one pool or queue.
func settle(c apply.Prefect) apply.Prefect {
	if r, ok := c.(prefectReader); ok {
		return settling{Prefect: c, read: r}
	}
	return c
}

func (s settling) CreatePool(ctx context.Context, p *state.Pool) error {
	err := s.Prefect.CreatePool(ctx, p)
	if !prefect.IsConflict(err) {
		return err
	}
	live, rerr := s.read.GetPool(ctx, p.Name)
	if rerr != nil {
		return err
	}
	d, l := state.New(), state.New()
	d.AddPool(p)
	l.AddPool(live)
	return conflictOutcome(err, d, l, state.PoolKey(p.Name))
}

func (s settling) CreateQueue(ctx context.Context, q *state.Queue) error {
	err := s.Prefect.CreateQueue(ctx, q)
	if !prefect.IsConflict(err) {
		return err
	}
	live, rerr := s.read.GetQueue(ctx, q.Pool, q.Name)
	if rerr != nil {
		return err
	}
	d, l := state.New(), state.New()
	d.AddQueue(q)
	l.AddQueue(live)
	return conflictOutcome(err, d, l, state.QueueKey(q.Pool, q.Name))
}

// conflictOutcome compares the object that took the name with the file's,
// as diff would.
func conflictOutcome(err error, desired, live *state.State, key state.Key) error {
	p, perr := plan.Compute(desired, live, plan.Options{Owned: func(state.Key) bool { return true }})
	if perr != nil {
		return err
	}
	for _, c := range p.Changes {
		if c.Key != key {
			continue
		}
		if c.Action == plan.NoOp {
			return nil
		}
		var fields []string
		for _, f := range c.Fields {
			fields = append(fields, f.Path)
		}
		return fmt.Errorf("%w; it was created by someone else after the plan was made (another sync at the same time?) and differs from the file in %s: run sync again", err, strings.Join(fields, ", "))
	}
	return err
}
