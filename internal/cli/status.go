package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/reconcile"
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
	Stats() map[string]int
}

// StatusOptions are the flags of `status`.
type StatusOptions struct {
	IO         *IOStreams
	Env        *Env
	File       string
	Set        string
	PrefectURL string
	Output     string
	Stats      bool
	// Now is the clock ages are measured against; tests fix it.
	Now func() time.Time
}

// statusConcurrency bounds the per-pool requests in flight.
const statusConcurrency = 4

func newStatusCmd(ios *IOStreams, env *Env) *cobra.Command {
	opts := &StatusOptions{IO: ios, Env: env, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "status [-f FILE]",
		Short: "Show pools, queues and worker health in one table",
		Long: `Print one table of work pools and their queues, as they are live:

  STATE           the pool's status (ready, not ready, paused), a queue's
                  (ready, not ready, paused); missing for a pool or queue
                  the file declares and the server does not have
  WORKERS         the pool's workers the server counts online and offline
  LAST HEARTBEAT  the newest heartbeat of the pool's workers; for a queue,
                  when a worker last polled it
  LIMIT           the concurrency limit (- for none)
  LATE RUNS       the pool's flow runs in the Late state
  SYNC            with -f: "in sync", or "drift" when diff would change the
                  pool or one of its queues (or they differ and are not
                  managed by the set); - without a file

With -f, the table holds the pools the file declares (as diff reads them:
the file is validated, interpolated and compared; Kubernetes is not read),
otherwise every pool on the server. status changes nothing.

Requests: the reads of diff with -f (pools, queues, the inventory), or one
paged list of pools without; one paged list of queues with their status;
then two per pool, four pools at a time: its workers
(POST /work_pools/{name}/workers/filter) and its late runs
(POST /flow_runs/count: Prefect has no count grouped by pool). --stats
prints them.

--output json prints a versioned document:

  {"version": 1, "file": "pools.yaml", "set": "gbif", "pools": [{
     "name": "gpu-tasks", "type": "kubernetes",
     "state": "ready",              // ready | not_ready | paused | missing
     "workers": {"online": 1, "offline": 0},
     "lastHeartbeat": "2026-11-26T19:54:18Z",   // null: no worker ever
     "concurrencyLimit": 1,         // null: no limit
     "lateRuns": 0,                 // null: the pool is missing
     "sync": "in_sync",             // in_sync | drift; absent without -f
     "queues": [{"name": "urgent", "priority": 1, "state": "ready",
                 "concurrencyLimit": null, "lastPolled": null,
                 "sync": "in_sync"}]}]}

"file", "set" and "sync" appear only with -f; a queue not in the file has
no "sync". Fields are added in the same version, never changed in meaning.

Exit status: 0 when the table was printed, whatever it shows; 1 on error.
Use diff's exit status to alert on drift.`,
		Example: `  # Every pool on the server
  prefect-apply status

  # The pools of a file, with whether each is in sync with it
  prefect-apply status -f pools.yaml

  # For a monitoring script: pools with late runs
  prefect-apply status -f pools.yaml -o json | jq '.pools[] | select(.lateRuns > 0) | .name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Output != "text" && opts.Output != "json" {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("--output %q: use text or json", opts.Output)}
			}
			if opts.Set != "" && opts.File == "" {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("--set %s: status uses a set only with -f, to compare the set's pools with the file", opts.Set)}
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fileFlag(fs, &opts.File, "status", "", "compare with pools.yaml `FILE` and show only its pools (default: every pool, no comparison)")
	fs.StringVar(&opts.Set, "set", "", "ownership set `NAME` (default: the file's `set`, else its base name, e.g. team-pools for Team_Pools.yaml)")
	fs.StringVar(&opts.PrefectURL, "prefect-url", "", "Prefect API `URL` (default: PREFECT_API_URL, the file's prefect.url, then the active Prefect profile)")
	fs.StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	completeValues(cmd, "output", "text", "json")
	fs.BoolVar(&opts.Stats, "stats", false, "print the number of requests sent, per route, to stderr")
	return cmd
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	var (
		client StatusClient
		pools  []*state.Pool // live, by name
		names  []string      // the rows, in order
		p      *reconcile.Planned
	)
	if opts.File != "" {
		var err error
		p, err = computePlan(ctx, opts.IO, opts.Env, &planFlags{File: opts.File, Set: opts.Set, PrefectURL: opts.PrefectURL, SkipKubernetes: true})
		if err != nil {
			return err
		}
		if client, err = statusClient(p.Client); err != nil {
			return err
		}
		for _, lp := range p.Live.Pools {
			pools = append(pools, lp)
		}
		for _, fp := range p.File.Pools {
			names = append(names, fp.Name)
		}
	} else {
		in := opts.Env.inputs(opts.IO)
		in.PrefectURL = opts.PrefectURL
		pc, err := reconcile.ConnectPrefect(in, "")
		if err != nil {
			return err
		}
		if client, err = statusClient(pc); err != nil {
			return err
		}
		if pools, err = client.ListPools(ctx); err != nil {
			return err
		}
		for _, lp := range pools {
			names = append(names, lp.Name)
		}
		sort.Strings(names)
	}
	if opts.Stats {
		defer func() { printRequests(opts.IO, client.Stats()) }()
	}
	report, err := readStatus(ctx, client, names, pools, p)
	if err != nil {
		return err
	}
	if p != nil {
		report.File = opts.File
	}
	if opts.Output == "json" {
		return render.StatusJSON(opts.IO.Out, report)
	}
	return render.StatusText(opts.IO.Out, report, opts.Now(), render.Style{Color: opts.IO.Color})
}

func statusClient(pc PrefectClient) (StatusClient, error) {
	sc, ok := pc.(StatusClient)
	if !ok {
		return nil, fmt.Errorf("the Prefect client cannot read workers and queue status")
	}
	return sc, nil
}

// readStatus reads queues, workers and late runs and assembles the report;
// p, when not nil, is the plan the sync column comes from.
func readStatus(ctx context.Context, client StatusClient, names []string, pools []*state.Pool, p *reconcile.Planned) (*render.StatusReport, error) {
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
	report := &render.StatusReport{}
	if p != nil {
		report.Set = p.Plan.Set
	}
	for _, n := range names {
		report.Pools = append(report.Pools, poolRow(n, live[n], queues, health[n], p))
	}
	return report, nil
}

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

func poolRow(name string, lp *state.Pool, queues []prefect.QueueStatus, h health, p *reconcile.Planned) render.PoolStatus {
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

// printRequests writes request counts to stderr, as --stats does for diff.
func printRequests(ios *IOStreams, stats map[string]int) {
	keys := make([]string, 0, len(stats))
	total := 0
	for k, n := range stats {
		keys = append(keys, k)
		total += n
	}
	sort.Strings(keys)
	fmt.Fprintf(ios.ErrOut, "requests to Prefect: %d\n", total)
	for _, k := range keys {
		fmt.Fprintf(ios.ErrOut, "  %-44s %d\n", k, stats[k])
	}
}
