package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/prefect-apply/prefect-apply/internal/reconcile"
	"github.com/prefect-apply/prefect-apply/internal/render"
)

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

// statusLong is status's --help text.
const statusLong = `Print one table of work pools and their queues, as they are live:

  STATE           the pool's status (ready, not ready, paused), a queue's
                  (ready, not ready, paused); missing for a pool or queue
                  the file declares and the server does not have
  WORKERS         the pool's workers the server counts online and offline
  LAST HEARTBEAT  the newest heartbeat of the pool's workers; for a queue,
                  when a worker last polled it
  LIMIT           the concurrency limit (- for none)
  LATE RUNS       the pool's flow runs in the Late state
  DEPLOYMENTS     the deployments that target the pool or queue
  RUNS S/P/R      their flow runs scheduled (Late included), pending and
                  running; "≥" when there were too many to count them all
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
(POST /flow_runs/count: Prefect has no count grouped by pool); then,
for every pool at once, the deployments (POST /deployments/paginate, 200
a page), their flows' names (POST /flows/filter) and their active runs
(POST /flow_runs/paginate, 200 a page, at most 1000 counted). --stats
prints them.

--output json prints a versioned document:

  {"version": 1, "file": "pools.yaml", "set": "gbif", "pools": [{
     "name": "gpu-tasks", "type": "kubernetes",
     "state": "ready",              // ready | not_ready | paused | missing
     "workers": {"online": 1, "offline": 0},
     "lastHeartbeat": "2026-11-26T19:54:18Z",   // null: no worker ever
     "concurrencyLimit": 1,         // null: no limit
     "lateRuns": 0,                 // null: the pool is missing
     "deployments": 2,              // null: the pool is missing
     "runs": {"scheduled": 5, "pending": 0, "running": 1},
     "sync": "in_sync",             // in_sync | drift; absent without -f
     "queues": [{"name": "urgent", "priority": 1, "state": "ready",
                 "concurrencyLimit": null, "lastPolled": null,
                 "sync": "in_sync"}]}]}

"file", "set" and "sync" appear only with -f; a queue not in the file has
no "sync". Fields are added in the same version, never changed in meaning.

Exit status: 0 when the table was printed, whatever it shows; 1 on error.
Use diff's exit status to alert on drift.`

func newStatusCmd(ios *IOStreams, env *Env) *cobra.Command {
	opts := &StatusOptions{IO: ios, Env: env, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "status [-f FILE]",
		Short: "Show pools, queues and worker health in one table",
		Long:  statusLong,
		Example: `  # Every pool on the server
  prefect-apply status

  # The pools of a file, with whether each is in sync with it
  prefect-apply status -f pools.yaml

  # For a monitoring script: pools with late runs
  prefect-apply status -f pools.yaml -o json | jq '.pools[] | select(.lateRuns > 0) | .name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Output != "text" && opts.Output != "json" {
				return fmt.Errorf("--output %q: use text or json", opts.Output)
			}
			if opts.Set != "" && opts.File == "" {
				return fmt.Errorf("--set %s: status uses a set only with -f, to compare the set's pools with the file", opts.Set)
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
	in := opts.Env.inputs(opts.IO)
	in.File, in.Set, in.PrefectURL, in.SkipKubernetes = opts.File, opts.Set, opts.PrefectURL, true
	report, client, err := reconcile.Status(ctx, in)
	printProblems(opts.IO, err)
	if client != nil && opts.Stats {
		defer func() { printRequests(opts.IO, "Prefect", client.Stats()) }()
	}
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		return render.StatusJSON(opts.IO.Out, report)
	}
	return render.StatusText(opts.IO.Out, report, opts.Now(), render.Style{Color: opts.IO.Color})
}
