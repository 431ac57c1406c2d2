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

// PoolFields is the one translation of a pool's settings to the API's
// names, for creates and updates alike: the fields of set, with p's values.
// A nil value is sent as null, which clears the field (a nil concurrency
// limit removes the limit). Fields a pool does not have are ignored.
func PoolFields(p *state.Pool, set state.Fields) map[string]any {
	body := map[string]any{}
	if set.Has(state.FieldDescription) {
		body["description"] = valueOrNull(p.Description)
	}
	if set.Has(state.FieldPaused) {
		body["is_paused"] = valueOrNull(p.Paused)
	}
	if set.Has(state.FieldConcurrencyLimit) {
		body["concurrency_limit"] = valueOrNull(p.ConcurrencyLimit)
	}
	if set.Has(state.FieldBaseJobTemplate) {
		body["base_job_template"] = nil
		if p.BaseJobTemplate != nil {
			body["base_job_template"] = p.BaseJobTemplate
		}
	}
	return body
}

// CreatePool creates a work pool, sending only the fields that are set.
// Prefect then gives it a queue named "default".
func (c *Client) CreatePool(ctx context.Context, p *state.Pool) error {
	body := PoolFields(p, p.Declared())
	body["name"] = p.Name
	if p.Type != "" {
		body["type"] = p.Type
	}
	return c.do(ctx, call{method: "POST", route: "work_pools/", body: body,
		op: "creating", obj: poolObject(p.Name)}, nil)
}

// UpdatePool PATCHes the fields of u; the others are left alone. Name and
// type cannot change.
func (c *Client) UpdatePool(ctx context.Context, name string, u state.PoolUpdate) error {
	return c.do(ctx, call{method: "PATCH", route: "work_pools/{}", names: []string{name},
		body: PoolFields(u.Pool, u.Fields), op: "updating", obj: poolObject(name)}, nil)
}

// DeletePool deletes a work pool and its queues.
func (c *Client) DeletePool(ctx context.Context, name string) error {
	return c.do(ctx, call{method: "DELETE", route: "work_pools/{}", names: []string{name},
		op: "deleting", obj: poolObject(name)}, nil)
}

// valueOrNull is *p, or nil (JSON null) when p is nil.
func valueOrNull[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
