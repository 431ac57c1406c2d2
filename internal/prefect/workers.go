package prefect

import (
	"context"
	"sort"
	"time"
)

// Worker is a worker process of a pool, as its heartbeats left it
// (WorkerResponse).
type Worker struct {
	Name string `json:"name"`
	// LastHeartbeat is when the worker last called in; zero if never.
	LastHeartbeat time.Time `json:"last_heartbeat_time"`
	// HeartbeatInterval is what the worker announced, in seconds; 0 if it
	// did not.
	HeartbeatInterval int `json:"heartbeat_interval_seconds"`
	// Status is ONLINE or OFFLINE: the server counts a worker offline once
	// it missed a few heartbeats.
	Status string `json:"status"`
}

// ListWorkers reads the workers of a pool through
// POST /work_pools/{name}/workers/filter, 200 per request, newest
// heartbeat first.
func (c *Client) ListWorkers(ctx context.Context, pool string) ([]Worker, error) {
	out, err := listAll[Worker](ctx, c, call{method: "POST", route: "work_pools/{}/workers/filter",
		names: []string{pool}, op: "listing", obj: "workers of " + poolObject(pool)}, nil, nil) // ordered by heartbeat, which moves
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LastHeartbeat.After(out[j].LastHeartbeat) })
	return out, nil
}

// LateState is the name Prefect gives a scheduled run whose start time has
// passed without a worker picking it up.
const LateState = "Late"

// CountLateRuns counts the flow runs of a pool in the Late state with one
// POST /flow_runs/count. The server has no count grouped by pool.
func (c *Client) CountLateRuns(ctx context.Context, pool string) (int, error) {
	body := map[string]any{
		"flow_runs":  map[string]any{"state": map[string]any{"name": map[string]any{"any_": []string{LateState}}}},
		"work_pools": map[string]any{"name": map[string]any{"any_": []string{pool}}},
	}
	var n int
	err := c.do(ctx, call{method: "POST", route: "flow_runs/count", body: body,
		op: "counting", obj: "late flow runs of " + poolObject(pool)}, &n)
	return n, err
}
