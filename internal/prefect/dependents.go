package prefect

import (
	"context"
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
