package cli

import (
	"github.com/spf13/cobra"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/reconcile"
	"github.com/prefect-apply/prefect-apply/internal/render"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// DiffOptions are the flags of `diff`.
type DiffOptions struct {
	IO  *IOStreams
	Env *Env
	planFlags
	// Out is where --out saves the plan for sync --plan.
	Out string
}

func newDiffCmd(ios *IOStreams, env *Env) *cobra.Command {
	opts := &DiffOptions{IO: ios, Env: env}
	cmd := &cobra.Command{
		Use:   "diff [-f FILE]",
		Short: "Show what sync would change, field by field",
		Long: `Read the live Prefect pools and queues, compare them with the file and print
the plan: what would be created, updated, replaced or deleted, field by field.
Nothing is changed. Secret values are never printed.

Kubernetes objects are compared with what the API server would store, by a
server-side apply dry run. A field that another field manager owns with a
value other than the file's (someone ran kubectl edit) is a conflict: the
plan names the object, the manager and the fields, and sync fails on that
object until --force-conflicts takes them over. With --force-conflicts,
diff plans as sync --force-conflicts would: the fields are shown as taken
over.

Objects to be created are dry-run too where the server can judge them:
cluster-scoped ones, and those in a namespace that exists (not in one the
same sync creates; one the identity may not create gets a Note). An object
the server refuses, new or existing (a bad data key, a value out of range),
is shown in the plan with the server's reason, and diff exits 1 after
printing the plan: sync would change nothing until the file is fixed.

For each existing pool the plan changes, diff reads the deployments that
target it and their scheduled, pending and running flow runs (nothing is
read when the plan changes no existing pool or queue), and shows them under
each risky change: a pool or queue deleted or replaced, paused, or given a
concurrency limit of 0, with what happens to the runs. A deletion that
would leave deployments without their pool or queue is marked blocked:
sync refuses it without --allow-orphaning. When a pool's template changes,
each deployment's job variables are checked against the new template, and
what it would drop or refuse is shown as a warning (--strict: exit 1).

Exit status: 0 when the live state matches the file, 2 when there are
changes (a conflict is one: sync cannot make it without --force-conflicts),
1 on error, an object the server refuses included. A pipeline can branch
on it:

  prefect-apply diff -f pools.yaml; case $? in 0) ;; 2) echo drift ;; *) exit 1 ;; esac

--output markdown prints a pull-request comment (under GitHub's 65,535
character limit); --output json a versioned document for tools; --output
github GitHub Actions workflow commands, which GitHub shows on the pull
request: an ::error for each change sync refuses (blocked, refused by the
API server, a conflict), a ::warning for each risky change and each
warning, on the line of the file that declares the object, and a ::notice
with the summary line.

--out FILE also saves the plan for sync --plan FILE: the plan, the SHA-256
of the file, the options that shaped it (--set, --prune, --adopt,
--skip-kubernetes) and, for each object, what identifies the live version
it was computed against. It holds no secret value (docs/plan-json.md).`,
		Example: `  prefect-apply diff -f pools.yaml
  prefect-apply diff -f pools.yaml --output markdown > plan.md
  prefect-apply diff -f pools.yaml --output github     # in a GitHub Actions step
  prefect-apply diff -f pools.yaml --out plan.json     # then: sync --plan plan.json
  PREFECT_API_URL=http://127.0.0.1:4200/api prefect-apply diff --skip-kubernetes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			return diffRun(cmd, opts)
		},
	}
	opts.register(cmd.Flags(), "diff")
	completeValues(cmd, "output", opts.formats...)
	cmd.Flags().StringVar(&opts.Out, "out", "", "also save the plan to `FILE`, for sync --plan")
	cmd.Flags().BoolVar(&opts.ForceConflicts, "force-conflicts", false, "plan as sync --force-conflicts would: Kubernetes fields another field manager owns are shown as taken over, not as conflicts")
	return cmd
}

func diffRun(cmd *cobra.Command, opts *DiffOptions) error {
	p, err := opts.compute(cmd.Context())
	if err != nil {
		return err
	}
	if opts.Stats {
		defer printStats(opts.IO, p)
	}
	if err := writeDiff(opts, p); err != nil {
		return err
	}
	if err := reconcile.Refused(p.Plan, "sync would change nothing"); err != nil {
		return err
	}
	if err := opts.strict(p.Plan, "sync --strict would change nothing"); err != nil {
		return err
	}
	if p.Plan.HasChanges() {
		return silent(ExitChanges)
	}
	return nil
}

// writeDiff writes diff's plan; GitHub's annotations stand on the lines
// that declare the objects.
func writeDiff(opts *DiffOptions, p *reconcile.Planned) error {
	if opts.Output != "github" {
		return writePlan(opts.IO, opts.Output, p.Plan)
	}
	return render.GitHub(opts.IO.Out, p.Plan, func(k state.Key) (string, config.Pos, bool) {
		pos, ok := p.Declared(k)
		return opts.File, pos, ok
	})
}

func writePlan(ios *IOStreams, format string, p *plan.Plan) error {
	switch format {
	case "json":
		return render.JSON(ios.Out, p)
	case "markdown":
		return render.Markdown(ios.Out, p)
	}
	return render.Text(ios.Out, p, render.Style{Color: ios.Color})
}
