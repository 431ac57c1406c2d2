package reconcile

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/render"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// StatusClient is what status reads from a Prefect server besides the
// pools and queues diff reads.
type StatusClient interface {
	ListPools(ctx context.Context) ([]*state.Pool, error)
	ListQueueStatus(ctx context.Context, pools []string) ([]prefect.QueueStatus, error)
	ListWorkers(ctx context.Context, pool string) ([]prefect.Worker, error)
	CountLateRuns(ctx context.Context, pool string) (int, error)
	ReadDependents(ctx context.Context, pools []string) (*state.Dependents, error)
	Stats() map[string]int
}

// statusConcurrency bounds the per-pool requests in flight.
const statusConcurrency = 4

// Status reads what status shows. With in.File, the rows are the file's
// pools, read and planned as diff does (Kubernetes is not read), and each
// says whether it is in sync; without, every pool on the server. The
// client is returned, when it was made, for its request counts.
func Status(ctx context.Context, in Inputs) (*render.StatusReport, StatusClient, error) {
	var (
		pools []*state.Pool // live
		names []string      // the rows, in order
		p     *Planned
		pc    PrefectClient
		err   error
	)
	if in.File != "" {
		if p, err = Plan(ctx, in); err != nil {
			return nil, nil, err
		}
		pc, pools = p.Client, slices.Collect(maps.Values(p.Live.Pools))
		for _, fp := range p.File.Pools {
			names = append(names, fp.Name)
		}
	} else if pc, err = ConnectPrefect(in, ""); err != nil {
		return nil, nil, err
	}
	client, ok := pc.(StatusClient)
	if !ok {
		return nil, nil, errors.New("the Prefect client cannot read workers and queue status")
	}
	if p == nil {
		if pools, err = client.ListPools(ctx); err != nil {
			return nil, client, err
		}
		for _, lp := range pools {
			names = append(names, lp.Name)
		}
		sort.Strings(names)
	}
	report, err := ReadStatus(ctx, client, names, pools, p)
	if err == nil && p != nil {
		report.File = in.File
	}
	return report, client, err
}

// ReadStatus reads queues, workers and late runs and assembles the report;
// p, when not nil, is the plan the sync column comes from.
func ReadStatus(ctx context.Context, client StatusClient, names []string, pools []*state.Pool, p *Planned) (*render.StatusReport, error) {
	live := map[string]*state.Pool{}
	for _, lp := range pools {
		live[lp.Name] = lp
	}
	var existing []string
	for _, n := range names {
		if live[n] != nil {
			existing = append(existing, n)
		}
	}
	queues, err := client.ListQueueStatus(ctx, existing)
	if err != nil {
		return nil, err
	}
	health, err := poolHealth(ctx, client, existing)
	if err != nil {
		return nil, err
	}
	// The deployments and runs of every pool at once, paged: Prefect has
	// no count by pool.
	deps, err := client.ReadDependents(ctx, existing)
	if err != nil {
		return nil, err
	}
	report := &render.StatusReport{}
	if p != nil {
		report.Set = p.Plan.Set
	}
	for _, n := range names {
		row := poolRow(n, live[n], queues, health[n], p)
		if live[n] != nil {
			countWork(&row, deps)
		}
		report.Pools = append(report.Pools, row)
	}
	return report, nil
}

// countWork fills in the deployments and active runs of a live pool and
// of its queues.
func countWork(row *render.PoolStatus, deps *state.Dependents) {
	row.Deployments = ptrTo(len(deps.OnPool(row.Name, "")))
	row.Runs = ptrTo(deps.RunsOn(row.Name, ""))
	row.RunsAtLeast = deps.RunsPartial
	for i := range row.Queues {
		q := &row.Queues[i]
		if q.State == render.StateMissing {
			continue
		}
		q.Deployments = ptrTo(len(deps.OnPool(row.Name, q.Name)))
		q.Runs = ptrTo(deps.RunsOn(row.Name, q.Name))
	}
}

func ptrTo[T any](v T) *T { return &v }

type health struct {
	workers []prefect.Worker
	late    int
}

// poolHealth reads each pool's workers and late runs, a few pools at a time.
func poolHealth(ctx context.Context, client StatusClient, names []string) (map[string]health, error) {
	out := make(map[string]health, len(names))
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
	)
	sem := make(chan struct{}, statusConcurrency)
	for _, n := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func(n string) {
			defer func() { <-sem; wg.Done() }()
			workers, err := client.ListWorkers(ctx, n)
			var late int
			if err == nil {
				late, err = client.CountLateRuns(ctx, n)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			out[n] = health{workers: workers, late: late}
		}(n)
	}
	wg.Wait()
	return out, first
}

func poolRow(name string, lp *state.Pool, queues []prefect.QueueStatus, h health, p *Planned) render.PoolStatus {
	row := render.PoolStatus{Name: name, State: render.StateMissing}
	if p != nil {
		row.Sync = render.InSync
		if d := p.Desired.Pools[name]; d != nil {
			row.Type = d.Type
		}
	}
	seen := map[string]bool{}
	if lp != nil {
		row.Type, row.ConcurrencyLimit = lp.Type, lp.ConcurrencyLimit
		row.State = liveState(lp.Status, lp.Paused != nil && *lp.Paused)
		late := h.late
		row.LateRuns = &late
		for _, w := range h.workers {
			if strings.EqualFold(w.Status, "ONLINE") {
				row.Workers.Online++
			} else {
				row.Workers.Offline++
			}
			if !w.LastHeartbeat.IsZero() && (row.LastHeartbeat == nil || w.LastHeartbeat.After(*row.LastHeartbeat)) {
				t := w.LastHeartbeat
				row.LastHeartbeat = &t
			}
		}
		for _, q := range queues {
			if q.Pool != name {
				continue
			}
			seen[q.Name] = true
			qr := render.QueueStatus{Name: q.Name, Priority: q.Priority, ConcurrencyLimit: q.ConcurrencyLimit,
				State: liveState(q.Status, q.Paused)}
			if !q.LastPolled.IsZero() {
				t := q.LastPolled
				qr.LastPolled = &t
			}
			row.Queues = append(row.Queues, qr)
		}
	}
	if p == nil {
		return row
	}
	// Declared queues the server does not have, after the live ones.
	var missing []render.QueueStatus
	for k, d := range p.Desired.Queues {
		if k.Namespace == name && !seen[d.Name] {
			missing = append(missing, render.QueueStatus{Name: d.Name, Priority: d.Priority, State: render.StateMissing})
		}
	}
	sort.Slice(missing, func(i, j int) bool {
		pi, pj := missing[i].Priority, missing[j].Priority
		if pi != nil && pj != nil && *pi != *pj {
			return *pi < *pj
		}
		return missing[i].Name < missing[j].Name
	})
	row.Queues = append(row.Queues, missing...)
	drift := map[state.Key]bool{}
	for _, c := range p.Plan.Changes {
		if c.Differs() {
			drift[c.Key] = true
		}
	}
	if drift[state.PoolKey(name)] {
		row.Sync = render.Drift
	}
	for i := range row.Queues {
		k := state.QueueKey(name, row.Queues[i].Name)
		_, declared := p.Desired.Queues[k]
		switch {
		case drift[k]:
			row.Queues[i].Sync = render.Drift
			row.Sync = render.Drift
		case declared:
			row.Queues[i].Sync = render.InSync
		}
	}
	return row
}

// liveState lower-cases Prefect's READY, NOT_READY and PAUSED.
func liveState(status string, paused bool) string {
	if paused {
		return render.StatePaused
	}
	if status == "" {
		return "unknown"
	}
	return strings.ToLower(status)
}
