package prefect

import (
	"context"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// ReadState reads every work pool and queue into a live State: pools by
// name, queues by QueueKey. It costs a constant number of requests per 200
// objects of each kind, however many pools there are.
func (c *Client) ReadState(ctx context.Context) (*state.State, error) {
	pools, err := c.ListPools(ctx)
	if err != nil {
		return nil, err
	}
	queues, err := c.listQueues(ctx, pools)
	if err != nil {
		return nil, err
	}
	s := state.New()
	for _, p := range pools {
		s.AddPool(p)
	}
	for _, q := range queues {
		s.AddQueue(q)
	}
	return s, nil
}
