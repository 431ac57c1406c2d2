package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/prefect-apply/prefect-apply/internal/apply"
	"github.com/prefect-apply/prefect-apply/internal/kube"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/reconcile"
	"github.com/prefect-apply/prefect-apply/internal/render"
)

// SyncOptions are the flags of `sync`.
type SyncOptions struct {
	IO  *IOStreams
	Env *Env
	planFlags
	Yes          bool
	AllowReplace bool
	Concurrency  int
	// PlanFile is a plan saved by diff --out, applied only if unchanged.
	PlanFile string
	// changed says whether a flag was given, true or false (nil: none was).
	changed func(name string) bool
}

// syncLong is sync's --help text.
const syncLong = `Compute the plan as diff does, print it, ask for confirmation (or take
--yes), and apply it in dependency order: pools before their queues, queues
by ascending priority. Each change is reported as it finishes.

sync never deletes what it does not own. Objects it creates are recorded in
an inventory on the Prefect server (Prefect Variables named
prefect-apply_<set>_<n>); with --prune, owned objects that left the file are
deleted. A pool's default queue is never deleted. Changing a pool's type
means deleting and recreating it, which sync does only with --allow-replace,
and so does changing a Kubernetes field the server will not change in place
(a binding's roleRef, a Secret's type). The object is created again once the
old one is gone, its finalizers done (--replace-timeout). A declared object
that someone else is deleting is created again the same way, without
--allow-replace.

A declared object that already exists but that the set does not own (a
pool or queue missing from the inventory, a Kubernetes object without the
set's ownership labels) is left alone and reported as "exists, not managed
by set ...". --adopt takes such objects over where they are: it records
them in the inventory and adds the labels (applying the file's differences,
if any), without deleting or recreating anything. An object another set
owns is shown as "managed by set ..."; --adopt moves it: it leaves that
set's inventory (a Kubernetes object is labelled again). --prune never
deletes a pool or queue another set's inventory lists too: the set lets go
of it instead. A Kubernetes field that
another field manager set to a different value is a conflict, as always,
until --force-conflicts: the plan names the manager and the fields, and
applying that object fails (the others go on). prefect-apply export
writes a file for an existing setup; sync --adopt then adopts it.

A declared Kubernetes object that the API server refuses in the dry run
(invalid) stops sync before it changes anything; the plan shows the
server's reason on the object.

Deleting or replacing a pool or queue that deployments target leaves them
without it: their runs are never picked up. sync refuses such a plan
(shown as blocked, with the deployments and their runs) unless
--allow-orphaning is given. Warnings about deployments' job variables that
a new template drops or refuses do not stop sync, unless --strict.

When a change fails, the changes that depend on it are skipped and the rest
go on; the report lists what was applied, what failed and what was skipped,
and the exit status is 1. Running sync again converges.

With --output json, sync prints one document on stdout once it is done:
the plan, then each change's result (applied, failed or skipped, with the
error and the duration), or, when it applied nothing, why
(docs/plan-json.md). Progress and errors go to stderr, the plan shown
there as text when sync asks for confirmation.

--plan FILE applies a plan saved by diff --out FILE, as reviewed: the plan
is computed again (with the options it was made with) and applied only if
-f names a file with the same content and the plan is the same, change for
change, field for field, Secret values included (compared by digest). It
refuses, naming each object, when a live object changed since (Kubernetes
resourceVersion; a Prefect object's settings: its "updated" moves whenever
a worker polls), appeared, disappeared, or would now be changed
differently. A refusal changes nothing. --yes, --allow-replace and
--allow-empty are still needed where sync needs them.

Exit status: 0 when everything was applied (or nothing had to be), 1 on
any error, a refused plan included.`

func newSyncCmd(ios *IOStreams, env *Env) *cobra.Command {
	opts := &SyncOptions{IO: ios, Env: env}
	cmd := &cobra.Command{
		Use:   "sync [-f FILE]",
		Short: "Apply the plan: make the live pools and queues match the file",
		Long:  syncLong,
		Example: `  # Review, then confirm at the prompt
  prefect-apply sync -f pools.yaml

  # In a deploy pipeline
  prefect-apply sync -f pools.yaml --yes --prune

  # Apply exactly the plan a reviewer saw
  prefect-apply diff -f pools.yaml --out plan.json
  prefect-apply sync -f pools.yaml --plan plan.json --yes

  # Take over pools, queues and RBAC created by hand (after export)
  prefect-apply export --kubernetes --set platform -o pools.yaml
  prefect-apply sync -f pools.yaml --adopt --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			if opts.Concurrency < 1 {
				return fmt.Errorf("--concurrency %d: give at least 1 (changes applied at the same time)", opts.Concurrency)
			}
			if opts.ReplaceTimeout <= 0 {
				return fmt.Errorf("--replace-timeout %s: give a positive duration, e.g. 30s or 5m", opts.ReplaceTimeout)
			}
			opts.changed = cmd.Flags().Changed
			return syncRun(cmd.Context(), opts)
		},
	}
	opts.register(cmd.Flags(), "sync")
	completeValues(cmd, "output", "text", "json", "markdown")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "apply without asking for confirmation (required when stdin is not a terminal)")
	cmd.Flags().BoolVar(&opts.AllowReplace, "allow-replace", false, "allow deleting and recreating what cannot change in place: pools whose type changed (with their queues), Kubernetes objects whose immutable fields changed (a binding's roleRef, a Secret's type)")
	cmd.Flags().IntVar(&opts.Concurrency, "concurrency", 8, "changes applied at the same time, at most: sync starts with 1 and adapts to what the servers take, halving when they answer overloaded (429, 503, timeouts)")
	cmd.Flags().DurationVar(&opts.ReplaceTimeout, "replace-timeout", kube.DefaultReplaceWait, "how long replacing a Kubernetes object waits for the old one to be gone (its finalizers done) before giving up")
	cmd.Flags().BoolVar(&opts.ForceConflicts, "force-conflicts", false, "take over Kubernetes fields that another field manager owns")
	cmd.Flags().StringVar(&opts.PlanFile, "plan", "", "apply the plan diff --out saved to `FILE`, refusing if anything changed since")
	return cmd
}

func syncRun(ctx context.Context, opts *SyncOptions) error {
	ios := opts.IO
	p, err := opts.compute(ctx)
	if err != nil {
		return err
	}
	if opts.Stats {
		defer printStats(ios, p)
	}
	// The JSON document holds the plan and what applying it did: it is
	// written once sync is done.
	if opts.Output != "json" {
		if err := writePlan(ios, opts.Output, p.Plan); err != nil {
			return err
		}
	}
	out, err := opts.applyPlan(ctx, p)
	if opts.Output == "json" {
		run := render.SyncRun{Refused: err, Mask: ios.mask}
		if out != nil {
			run.Results, run.Recorded = out.Results, out.Recorded
		}
		if werr := render.SyncJSON(ios.Out, p.Plan, run); werr != nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	opts.report(p.Plan, out)
	if out.Failed() {
		return silent(ExitFailure)
	}
	return nil
}

// applyPlan applies the plan unless sync refuses it; an error means
// nothing was changed.
func (opts *SyncOptions) applyPlan(ctx context.Context, p *reconcile.Planned) (*reconcile.Outcome, error) {
	ios := opts.IO
	if err := reconcile.Refused(p.Plan, "nothing was changed"); err != nil {
		return nil, err
	}
	if err := opts.strict(p.Plan, "nothing was changed"); err != nil {
		return nil, err
	}
	if !p.Plan.Writes() {
		return reconcile.Apply(ctx, p, reconcile.ApplyOptions{})
	}
	if err := opts.approve(p.Plan); err != nil {
		return nil, err
	}
	progress := opts.progress()
	if opts.Output == "text" {
		fmt.Fprintln(progress)
	}
	return reconcile.Apply(ctx, p, reconcile.ApplyOptions{AllowReplace: opts.AllowReplace, Concurrency: opts.Concurrency,
		Progress: func(r apply.Result) {
			fmt.Fprintln(progress, ios.mask(render.ResultLine(r, render.Style{Color: ios.Color})))
		}})
}

// report prints what applying did, after the progress lines: the
// inventory write's error, the results' summary and what was left alone.
func (opts *SyncOptions) report(p *plan.Plan, out *reconcile.Outcome) {
	ios := opts.IO
	if !p.Writes() {
		reportUnmanaged(ios, opts.Output, p)
		return
	}
	progress := opts.progress()
	if out.Recorded != nil {
		fmt.Fprintln(ios.ErrOut, "Error:", ios.mask(out.Recorded.Error()))
	}
	fmt.Fprintln(progress)
	fmt.Fprintln(progress, render.ResultSummary(out.Results))
	reportUnmanaged(ios, opts.Output, p)
}

// progress is where the result lines go: stdout with the text plan,
// stderr when stdout holds a JSON or Markdown document.
func (opts *SyncOptions) progress() io.Writer {
	if opts.Output == "text" {
		return opts.IO.Out
	}
	return opts.IO.ErrOut
}

// approve refuses a replacement without --allow-replace, and asks for
// confirmation unless --yes.
func (opts *SyncOptions) approve(p *plan.Plan) error {
	ios := opts.IO
	if what := reconcile.Replacing(p); what != "" && !opts.AllowReplace {
		return fmt.Errorf("the plan replaces %s; nothing was changed: rerun with --allow-replace to do it", what)
	}
	if err := reconcile.Blocked(p, "nothing was changed"); err != nil {
		return err
	}
	if opts.Yes {
		return nil
	}
	if !ios.InTTY {
		return errors.New("nothing was changed: stdin is not a terminal, so there is nobody to confirm; rerun with --yes to apply")
	}
	ok, err := opts.confirm(p)
	if err != nil || !ok {
		fmt.Fprintln(ios.ErrOut, "Cancelled; nothing was changed.")
		return silentBecause(ExitFailure, errCancelled)
	}
	return nil
}

// errCancelled is the refusal of a plan not confirmed at the prompt.
var errCancelled = errors.New("cancelled at the confirmation prompt; nothing was changed")

// reportUnmanaged names the declared objects sync left alone because the
// set does not own them.
func reportUnmanaged(ios *IOStreams, format string, p *plan.Plan) {
	if line := render.UnmanagedSummary(p); line != "" {
		w := ios.ErrOut
		if format == "text" {
			w = ios.Out
		}
		fmt.Fprintln(w, line)
	}
}

// confirm asks whoever is at the terminal to apply the plan. With
// --output json, stdout is kept for the document, written once sync is
// done: the plan is shown as text on stderr, and the question asked there.
func (opts *SyncOptions) confirm(p *plan.Plan) (bool, error) {
	ios := opts.IO
	prompt := ios.Out
	if opts.Output == "json" {
		prompt = ios.ErrOut
		if err := render.Text(prompt, p, render.Style{}); err != nil {
			return false, err
		}
	}
	fmt.Fprint(prompt, "\nApply these changes? Only 'yes' will be accepted: ")
	line, err := bufio.NewReader(ios.In).ReadString('\n')
	if err != nil && line == "" {
		return false, err
	}
	return strings.TrimSpace(line) == "yes", nil
}
