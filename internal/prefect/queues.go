package prefect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// queueJSON is a work queue as the API returns it (WorkQueueResponse).
type queueJSON struct {
	ID               string  `json:"id"`
	Updated          string  `json:"updated"`
	Name             string  `json:"name"`
	Description      *string `json:"description"`
	IsPaused         bool    `json:"is_paused"`
	ConcurrencyLimit *int    `json:"concurrency_limit"`
	Priority         *int    `json:"priority"`
	WorkPoolName     string  `json:"work_pool_name"`
}

func (w *queueJSON) queue() *state.Queue {
	paused := w.IsPaused
	return &state.Queue{
		Pool:             w.WorkPoolName,
		Name:             w.Name,
		Description:      w.Description,
		Priority:         w.Priority,
		ConcurrencyLimit: w.ConcurrencyLimit,
		Paused:           &paused,
		ID:               w.ID,
		Updated:          w.Updated,
	}
}

func queueObject(pool, name string) string { return fmt.Sprintf("work queue %q", pool+"/"+name) }

// ListQueues reads the queues of every pool through POST /work_queues/filter,
// 200 per request. Legacy queues outside any pool are skipped.
func (c *Client) ListQueues(ctx context.Context) ([]*state.Queue, error) {
	return c.listQueues(ctx, nil)
}

// listQueues pages through all queues. The server orders them by name only,
// and names repeat across pools ("default"), so on a database that breaks
// ties differently per query a page boundary can show one queue twice and
// hide another. A repeated ID reveals that; the queues are then read pool by
// pool, where names are unique. pools may be nil; it is read when needed.
func (c *Client) listQueues(ctx context.Context, pools []*state.Pool) ([]*state.Queue, error) {
	raw, err := listAll[queueJSON](ctx, c, call{method: "POST", route: "work_queues/filter",
		op: "listing", obj: "work queues"}, nil, queueID)
	if errors.Is(err, errShifted) {
		return c.listQueuesByPool(ctx, pools)
	}
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(raw))
	for _, w := range raw {
		if seen[w.ID] {
			return c.listQueuesByPool(ctx, pools)
		}
		seen[w.ID] = true
	}
	return sortQueues(raw), nil
}

func (c *Client) listQueuesByPool(ctx context.Context, pools []*state.Pool) ([]*state.Queue, error) {
	if pools == nil {
		var err error
		if pools, err = c.ListPools(ctx); err != nil {
			return nil, err
		}
	}
	var raw []queueJSON
	for _, p := range pools {
		qs, err := listAll[queueJSON](ctx, c, call{method: "POST", route: "work_pools/{}/queues/filter",
			names: []string{p.Name}, op: "listing", obj: "work queues of " + poolObject(p.Name)}, nil, queueID)
		if err != nil {
			return nil, err
		}
		for i := range qs {
			qs[i].WorkPoolName = p.Name
		}
		raw = append(raw, qs...)
	}
	return sortQueues(raw), nil
}

// sortQueues converts pool queues and orders them by pool, then name.
func sortQueues(raw []queueJSON) []*state.Queue {
	out := make([]*state.Queue, 0, len(raw))
	for i := range raw {
		if raw[i].WorkPoolName != "" {
			out = append(out, raw[i].queue())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pool != out[j].Pool {
			return out[i].Pool < out[j].Pool
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// GetQueue reads one queue of a pool; IsNotFound(err) when it does not exist.
func (c *Client) GetQueue(ctx context.Context, pool, name string) (*state.Queue, error) {
	var w queueJSON
	err := c.do(ctx, call{method: "GET", route: "work_pools/{}/queues/{}", names: []string{pool, name},
		op: "reading", obj: queueObject(pool, name)}, &w)
	if err != nil {
		return nil, err
	}
	w.WorkPoolName = pool
	return w.queue(), nil
}

// QueueFields is the one translation of a queue's settings to the API's
// names, for creates and updates alike: the fields of set, with q's values.
// A nil value is sent as null, which clears the field (a nil concurrency
// limit removes the limit). Fields a queue does not have are ignored.
func QueueFields(q *state.Queue, set state.Fields) map[string]any {
	body := map[string]any{}
	if set.Has(state.FieldDescription) {
		body["description"] = valueOrNull(q.Description)
	}
	if set.Has(state.FieldPaused) {
		body["is_paused"] = valueOrNull(q.Paused)
	}
	if set.Has(state.FieldConcurrencyLimit) {
		body["concurrency_limit"] = valueOrNull(q.ConcurrencyLimit)
	}
	if set.Has(state.FieldPriority) {
		body["priority"] = valueOrNull(q.Priority)
	}
	return body
}

// CreateQueue creates a queue in q.Pool, sending only the fields that are set.
func (c *Client) CreateQueue(ctx context.Context, q *state.Queue) error {
	body := QueueFields(q, q.Declared())
	body["name"] = q.Name
	return c.do(ctx, call{method: "POST", route: "work_pools/{}/queues", names: []string{q.Pool},
		body: body, op: "creating", obj: queueObject(q.Pool, q.Name)}, nil)
}

// UpdateQueue PATCHes the fields of u; the others are left alone.
func (c *Client) UpdateQueue(ctx context.Context, pool, name string, u state.QueueUpdate) error {
	return c.do(ctx, call{method: "PATCH", route: "work_pools/{}/queues/{}", names: []string{pool, name},
		body: QueueFields(u.Queue, u.Fields), op: "updating", obj: queueObject(pool, name)}, nil)
}

// DeleteQueue deletes a queue. Prefect refuses to delete a pool's default
// queue, with a bare 500.
func (c *Client) DeleteQueue(ctx context.Context, pool, name string) error {
	err := c.do(ctx, call{method: "DELETE", route: "work_pools/{}/queues/{}", names: []string{pool, name},
		op: "deleting", obj: queueObject(pool, name)}, nil)
	var e *APIError
	if errors.As(err, &e) && e.Status == http.StatusInternalServerError {
		e.Hint = "Prefect answers 500 when asked to delete a pool's default queue, which cannot be deleted"
	}
	return err
}

func queueID(q *queueJSON) string { return q.ID }
