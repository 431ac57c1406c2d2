package prefect

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// maxRunPages bounds the pages of flow runs ReadDependents reads; past
// them the counts are lower bounds (Dependents.RunsPartial).
const maxRunPages = 5

// ReadDependents reads what runs on the named pools: the deployments that
// target them (POST /deployments/paginate, 200 a page), the names of their
// flows (POST /flows/filter) and their flow runs that are scheduled
// (Late included), pending or running (POST /flow_runs/paginate), counted
// by pool, queue and deployment. Prefect has no count grouped by pool, so
// the runs are read and counted here. For D deployments on the pools and
// at most 200 such runs, that is ceil(D/200) + 2 requests (one when there
// is no deployment: a pool without deployments has no runs to count).
func (c *Client) ReadDependents(ctx context.Context, pools []string) (*state.Dependents, error) {
	out := &state.Dependents{Runs: map[state.Key]state.RunCounts{}, RunsByDeployment: map[string]state.RunCounts{}}
	if len(pools) == 0 {
		return out, nil
	}
	filter := map[string]any{"work_pools": map[string]any{"name": map[string]any{"any_": pools}}}
	deps, err := paginate[deploymentJSON](ctx, c, call{method: "POST", route: "deployments/paginate", op: "listing", obj: "the deployments of the pools"},
		withKeys(filter, "sort", "CREATED_DESC"), 0)
	if err != nil || len(deps.items) == 0 {
		return out, err
	}
	flows, err := c.flowNames(ctx, deps.items)
	if err != nil {
		return nil, err
	}
	for _, d := range deps.items {
		out.Deployments = append(out.Deployments, d.deployment(flows))
	}
	slices.SortFunc(out.Deployments, func(a, b state.Deployment) int {
		return strings.Compare(a.Pool+"\x00"+a.Queue+"\x00"+a.Name, b.Pool+"\x00"+b.Queue+"\x00"+b.Name)
	})
	active := map[string]any{"state": map[string]any{"type": map[string]any{"any_": []string{"SCHEDULED", "PENDING", "RUNNING"}}}}
	runs, err := paginate[flowRunJSON](ctx, c, call{method: "POST", route: "flow_runs/paginate", op: "counting", obj: "the flow runs of the pools"},
		withKeys(filter, "flow_runs", active, "sort", "ID_DESC"), maxRunPages)
	if err != nil {
		return nil, err
	}
	out.RunsPartial = runs.partial
	for _, r := range runs.items {
		r.count(out)
	}
	return out, nil
}

type deploymentJSON struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	FlowID       string         `json:"flow_id"`
	Pool         *string        `json:"work_pool_name"`
	Queue        *string        `json:"work_queue_name"`
	JobVariables map[string]any `json:"job_variables"`
	Paused       bool           `json:"paused"`
	Schedules    []struct {
		Active bool `json:"active"`
	} `json:"schedules"`
}

func (d deploymentJSON) deployment(flows map[string]string) state.Deployment {
	name := d.Name
	if f := flows[d.FlowID]; f != "" {
		name = f + "/" + d.Name
	}
	out := state.Deployment{ID: d.ID, Name: name, JobVariables: d.JobVariables, Paused: d.Paused}
	if d.Pool != nil {
		out.Pool = *d.Pool
	}
	if d.Queue != nil {
		out.Queue = *d.Queue
	}
	for _, s := range d.Schedules {
		out.Scheduled = out.Scheduled || s.Active
	}
	return out
}

// flowNames reads the names of the deployments' flows, by flow id.
func (c *Client) flowNames(ctx context.Context, deps []deploymentJSON) (map[string]string, error) {
	ids := map[string]bool{}
	for _, d := range deps {
		ids[d.FlowID] = true
	}
	type flowJSON struct{ ID, Name string }
	flows, err := listAll[flowJSON](ctx, c, call{method: "POST", route: "flows/filter", op: "reading", obj: "the deployments' flows"},
		map[string]any{"flows": map[string]any{"id": map[string]any{"any_": slices.Sorted(maps.Keys(ids))}}}, nil)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(flows))
	for _, f := range flows {
		out[f.ID] = f.Name
	}
	return out, nil
}

type flowRunJSON struct {
	Deployment *string `json:"deployment_id"`
	Pool       *string `json:"work_pool_name"`
	Queue      *string `json:"work_queue_name"`
	StateType  string  `json:"state_type"`
}

func (r flowRunJSON) count(d *state.Dependents) {
	var one state.RunCounts
	switch r.StateType {
	case "SCHEDULED":
		one.Scheduled = 1
	case "PENDING":
		one.Pending = 1
	case "RUNNING":
		one.Running = 1
	default:
		return
	}
	if r.Pool != nil {
		queue := ""
		if r.Queue != nil {
			queue = *r.Queue
		}
		k := state.QueueKey(*r.Pool, queue)
		d.Runs[k] = d.Runs[k].Add(one)
	}
	if r.Deployment != nil {
		d.RunsByDeployment[*r.Deployment] = d.RunsByDeployment[*r.Deployment].Add(one)
	}
}

// paged is what paginate read.
type paged[T any] struct {
	items   []T
	partial bool // more pages than it was allowed to read
}

// paginate reads a /paginate route page by page (200 a page) until its
// last page, or maxPages of them when not 0. A server without the route
// (404: an older Prefect 3) is read through the matching /filter route,
// offset by offset, in full.
func paginate[T any](ctx context.Context, c *Client, cl call, filter map[string]any, limit int) (paged[T], error) {
	var out paged[T]
	for page := 1; page <= maxPagesOr(limit); page++ {
		var resp struct {
			Results []T `json:"results"`
			Pages   int `json:"pages"`
		}
		cl.body = withKeys(filter, "limit", pageSize, "page", page)
		err := c.do(ctx, cl, &resp)
		if page == 1 && IsNotFound(err) && strings.HasSuffix(cl.route, "/paginate") {
			cl.route = strings.TrimSuffix(cl.route, "paginate") + "filter"
			out.items, err = listAll[T](ctx, c, cl, filter, nil)
			return out, err
		}
		if err != nil {
			return out, err
		}
		out.items = append(out.items, resp.Results...)
		if page >= resp.Pages || len(resp.Results) == 0 {
			return out, nil
		}
	}
	if limit == 0 {
		return out, fmt.Errorf("%s %s: more than %d pages; the server seems to ignore the page", cl.op, cl.obj, maxPages)
	}
	out.partial = true
	return out, nil
}

func maxPagesOr(limit int) int {
	if limit > 0 {
		return limit
	}
	return maxPages
}

// withKeys is a copy of m with more keys, given as key, value pairs.
func withKeys(m map[string]any, kv ...any) map[string]any {
	out := maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}
