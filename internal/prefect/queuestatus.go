package prefect

import (
	"context"
	"errors"
	"sort"
	"time"
)

// QueueStatus is the health of a work queue: what the server derived from
// the polls of the pool's workers. The planner's state.Queue leaves these
// server-maintained fields out on purpose.
type QueueStatus struct {
	Pool             string `json:"work_pool_name"`
	Name             string `json:"name"`
	ID               string `json:"id"`
	Priority         *int   `json:"priority"`
	ConcurrencyLimit *int   `json:"concurrency_limit"`
	Paused           bool   `json:"is_paused"`
	// Status is READY, NOT_READY or PAUSED.
	Status string `json:"status"`
	// LastPolled is when a worker last asked the queue for runs; zero if
	// never.
	LastPolled time.Time `json:"last_polled"`
}

// ListQueueStatus reads the status of every pool's queues through
// POST /work_queues/filter, 200 per request, ordered by pool, then
// priority, then name. As in ReadState, a page boundary that shows a queue
// twice (the server orders by name only) makes it read pool by pool.
func (c *Client) ListQueueStatus(ctx context.Context, pools []string) ([]QueueStatus, error) {
	all, err := listAll[QueueStatus](ctx, c, call{method: "POST", route: "work_queues/filter",
		op: "listing", obj: "work queues"}, nil, statusID)
	if errors.Is(err, errShifted) {
		all, err = c.queueStatusByPool(ctx, pools)
	}
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(all))
	for _, q := range all {
		if seen[q.ID] {
			all, err = c.queueStatusByPool(ctx, pools)
			if err != nil {
				return nil, err
			}
			break
		}
		seen[q.ID] = true
	}
	out := all[:0]
	for _, q := range all {
		if q.Pool != "" {
			out = append(out, q)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Pool != b.Pool {
			return a.Pool < b.Pool
		}
		if pa, pb := priorityOf(a), priorityOf(b); pa != pb {
			return pa < pb
		}
		return a.Name < b.Name
	})
	return out, nil
}

func (c *Client) queueStatusByPool(ctx context.Context, pools []string) ([]QueueStatus, error) {
	if pools == nil {
		live, err := c.ListPools(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range live {
			pools = append(pools, p.Name)
		}
	}
	var all []QueueStatus
	for _, p := range pools {
		qs, err := listAll[QueueStatus](ctx, c, call{method: "POST", route: "work_pools/{}/queues/filter",
			names: []string{p}, op: "listing", obj: "work queues of " + poolObject(p)}, nil, statusID)
		if IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for i := range qs {
			qs[i].Pool = p
		}
		all = append(all, qs...)
	}
	return all, nil
}

func priorityOf(q QueueStatus) int {
	if q.Priority == nil {
		return int(^uint(0) >> 1)
	}
	return *q.Priority
}

func statusID(q *QueueStatus) string { return q.ID }
