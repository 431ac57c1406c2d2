package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/reconcile"
	"github.com/prefect-apply/prefect-apply/internal/render"
)

// Saved plans: `diff --out FILE` writes the plan with what it was computed
// from; `sync --plan FILE` computes the plan again and applies it only if
// it is the saved one, change for change. The document's format is in
// docs/plan-json.md.

// compute is diff's plan, saved to --out when given.
func (o *DiffOptions) compute(ctx context.Context) (*reconcile.Planned, error) {
	if o.Out == "" {
		return computePlan(ctx, o.IO, o.Env, &o.planFlags)
	}
	p, saved, err := reconcile.PlanForSaving(ctx, o.inputs(o.IO, o.Env))
	printProblems(o.IO, err)
	if err != nil {
		return nil, err
	}
	raw, err := json.MarshalIndent(saved, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("saving the plan: %w", err)
	}
	if err := os.WriteFile(o.Out, append(raw, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("saving the plan: %w", err)
	}
	fmt.Fprintf(o.IO.ErrOut, "Saved the plan to %s; apply exactly it with: prefect-apply sync --plan %s -f %s\n", o.Out, o.Out, o.File)
	return p, nil
}

// compute is sync's plan: computed from the file, or, with --plan, the
// saved plan if applying it now would do exactly what it says.
func (o *SyncOptions) compute(ctx context.Context) (*reconcile.Planned, error) {
	if o.PlanFile == "" {
		return computePlan(ctx, o.IO, o.Env, &o.planFlags)
	}
	saved, err := reconcile.ReadSaved(o.PlanFile)
	if err != nil {
		return nil, err
	}
	if err := reconcile.CheckSource(saved, o.PlanFile, o.File); err != nil {
		return nil, err
	}
	if err := o.takeOptions(saved); err != nil {
		return nil, err
	}
	p, err := reconcile.PlanSaved(ctx, o.inputs(o.IO, o.Env), saved, o.PlanFile)
	printProblems(o.IO, err)
	var stale *reconcile.StaleError
	if errors.As(err, &stale) {
		for _, m := range stale.Mismatches {
			fmt.Fprintln(o.IO.ErrOut, "  "+render.Object(m.Key)+": "+m.Reason)
		}
	}
	return p, err
}

// takeOptions applies the flags that shaped the saved plan; a flag given
// now that the plan was made without, or turned off (--prune=false) when
// the plan was made with it, is an error, not silently dropped.
func (o *SyncOptions) takeOptions(s *plan.Saved) error {
	var without, with []string
	check := func(flag string, now, saved bool) {
		switch {
		case now && !saved:
			without = append(without, flag)
		case !now && saved && o.changed != nil && o.changed(strings.TrimPrefix(flag, "--")):
			with = append(with, fmt.Sprintf("%s, which %s=false contradicts", flag, flag))
		}
	}
	check("--prune", o.Prune, s.Options.Prune)
	check("--adopt", o.Adopt, s.Options.Adopt)
	check("--skip-kubernetes", o.SkipKubernetes, s.Options.SkipKubernetes)
	check("--force-conflicts", o.ForceConflicts, s.Options.ForceConflicts)
	check("--allow-orphaning", o.AllowOrphaning, s.Options.AllowOrphaning)
	if o.Set != "" && o.Set != s.Set {
		without = append(without, fmt.Sprintf("--set %s (the plan's set is %q)", o.Set, s.Set))
	}
	if len(without) > 0 {
		return fmt.Errorf("%s was made without %s; nothing was read or changed: the plan decides these, so run diff --out with them", o.PlanFile, strings.Join(without, ", "))
	}
	if len(with) > 0 {
		return fmt.Errorf("%s was made with %s; nothing was read or changed: the plan decides these, so run diff --out without them", o.PlanFile, strings.Join(with, "; "))
	}
	o.Prune, o.Adopt, o.SkipKubernetes, o.ForceConflicts, o.Set = s.Options.Prune, s.Options.Adopt, s.Options.SkipKubernetes, s.Options.ForceConflicts, s.Set
	o.AllowOrphaning = s.Options.AllowOrphaning
	return nil
}
