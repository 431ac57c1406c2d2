package prefect

import (
	"context"
	"fmt"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// poolJSON is a work pool as the API returns it (WorkPoolResponse).
type poolJSON struct {
	ID               string         `json:"id"`
	Updated          string         `json:"updated"`
	Name             string         `json:"name"`
	Type             string         `json:"type"`
	Description      *string        `json:"description"`
	IsPaused         bool           `json:"is_paused"`
	ConcurrencyLimit *int           `json:"concurrency_limit"`
	BaseJobTemplate  map[string]any `json:"base_job_template"`
	Status           *string        `json:"status"`
}

// pool converts to the shared model. Description stays nil only when the
// server sent null.
func (w *poolJSON) pool() *state.Pool {
	paused := w.IsPaused
	p := &state.Pool{
		Name:             w.Name,
		Type:             w.Type,
		Description:      w.Description,
		Paused:           &paused,
		ConcurrencyLimit: w.ConcurrencyLimit,
		BaseJobTemplate:  w.BaseJobTemplate,
		ID:               w.ID,
		Updated:          w.Updated,
	}
	if w.Status != nil {
		p.Status = *w.Status
	}
	return p
}

func poolObject(name string) string { return fmt.Sprintf("work pool %q", name) }

// ListPools reads every work pool, 200 per request.
func (c *Client) ListPools(ctx context.Context) ([]*state.Pool, error) {
	raw, err := listAll[poolJSON](ctx, c, call{method: "POST", route: "work_pools/filter",
		op: "listing", obj: "work pools"}, nil, func(p *poolJSON) string { return p.ID })
	if err != nil {
		return nil, err
	}
	out := make([]*state.Pool, len(raw))
	for i := range raw {
		out[i] = raw[i].pool()
	}
	return out, nil
}

// GetPool reads one work pool; IsNotFound(err) when it does not exist.
func (c *Client) GetPool(ctx context.Context, name string) (*state.Pool, error) {
	var w poolJSON
	err := c.do(ctx, call{method: "GET", route: "work_pools/{}", names: []string{name},
		op: "reading", obj: poolObject(name)}, &w)
	if err != nil {
		return nil, err
	}
	return w.pool(), nil
}

// CreatePool creates a work pool, sending only the fields that are set.
// Prefect then gives it a queue named "default".
func (c *Client) CreatePool(ctx context.Context, p *state.Pool) error {
	body := map[string]any{"name": p.Name}
	if p.Type != "" {
		body["type"] = p.Type
	}
	if p.Description != nil {
		body["description"] = *p.Description
	}
	if p.Paused != nil {
		body["is_paused"] = *p.Paused
	}
	if p.ConcurrencyLimit != nil {
		body["concurrency_limit"] = *p.ConcurrencyLimit
	}
	if p.BaseJobTemplate != nil {
		body["base_job_template"] = p.BaseJobTemplate
	}
	return c.do(ctx, call{method: "POST", route: "work_pools/", body: body,
		op: "creating", obj: poolObject(p.Name)}, nil)
}

// UpdatePool PATCHes exactly the given JSON fields (description, is_paused,
// concurrency_limit, base_job_template, ...); a nil value clears a field.
// Name and type cannot change.
func (c *Client) UpdatePool(ctx context.Context, name string, fields map[string]any) error {
	return c.do(ctx, call{method: "PATCH", route: "work_pools/{}", names: []string{name},
		body: nonNilMap(fields), op: "updating", obj: poolObject(name)}, nil)
}

// DeletePool deletes a work pool and its queues.
func (c *Client) DeletePool(ctx context.Context, name string) error {
	return c.do(ctx, call{method: "DELETE", route: "work_pools/{}", names: []string{name},
		op: "deleting", obj: poolObject(name)}, nil)
}

// nonNilMap keeps an empty update a JSON object rather than null.
func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
