package cli

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

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
	sha, err := fileSHA256(o.File)
	if err != nil {
		return nil, err
	}
	p, err := computePlan(ctx, o.IO, o.Env, &o.planFlags)
	if err != nil {
		return nil, err
	}
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("saving the plan: %w", err)
	}
	saved, err := seal(p, salt, plan.SavedSource{File: o.File, SHA256: sha}, savedOptions(&o.planFlags))
	if err != nil {
		return nil, err
	}
	saved.CreatedAt = time.Now().UTC().Format(time.RFC3339)
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
	saved, err := readSaved(o.PlanFile)
	if err != nil {
		return nil, err
	}
	salt, err := saved.Salt()
	if err != nil {
		return nil, refuse("%s: %v", o.PlanFile, err)
	}
	sha, err := fileSHA256(o.File)
	if err != nil {
		return nil, err
	}
	if sha != saved.Source.SHA256 {
		return nil, refuse("%s was made from a different %s (%s, sha256 %.12s; the file now %.12s); nothing was read or changed: run diff --out again and review the new plan",
			o.PlanFile, o.File, saved.Source.File, saved.Source.SHA256, sha)
	}
	if err := o.takeOptions(saved); err != nil {
		return nil, err
	}
	p, err := computePlan(ctx, o.IO, o.Env, &o.planFlags)
	if err != nil {
		return nil, err
	}
	now, err := seal(p, salt, saved.Source, saved.Options)
	if err != nil {
		return nil, err
	}
	if diffs := plan.Compare(saved, now); len(diffs) > 0 {
		for _, m := range diffs {
			fmt.Fprintln(o.IO.ErrOut, "  "+render.Object(m.Key)+": "+m.Reason)
		}
		return nil, refuse("%s is out of date: %d object%s above changed since it was made (%s); nothing was changed: run diff --out again and review the new plan",
			o.PlanFile, len(diffs), plural(len(diffs)), madeAt(saved))
	}
	return p, nil
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
	if o.Set != "" && o.Set != s.Set {
		without = append(without, fmt.Sprintf("--set %s (the plan's set is %q)", o.Set, s.Set))
	}
	if len(without) > 0 {
		return refuse("%s was made without %s; nothing was read or changed: the plan decides these, so run diff --out with them", o.PlanFile, strings.Join(without, ", "))
	}
	if len(with) > 0 {
		return refuse("%s was made with %s; nothing was read or changed: the plan decides these, so run diff --out without them", o.PlanFile, strings.Join(with, "; "))
	}
	o.Prune, o.Adopt, o.SkipKubernetes, o.ForceConflicts, o.Set = s.Options.Prune, s.Options.Adopt, s.Options.SkipKubernetes, s.Options.ForceConflicts, s.Set
	return nil
}

func savedOptions(f *planFlags) plan.SavedOptions {
	return plan.SavedOptions{Prune: f.Prune, Adopt: f.Adopt, SkipKubernetes: f.SkipKubernetes, ForceConflicts: f.ForceConflicts}
}

func seal(p *reconcile.Planned, salt []byte, src plan.SavedSource, opts plan.SavedOptions) (*plan.Saved, error) {
	return plan.Seal(p.Plan, plan.SealInput{Source: src, Options: opts, Salt: salt, Live: p.Live, SecretData: p.Desired.SecretData})
}

func readSaved(path string) (*plan.Saved, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("reading the saved plan: %w", err)}
	}
	var s plan.Saved
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, refuse("%s is not a saved plan (%v): write one with diff --out", path, err)
	}
	if s.Kind != plan.SavedKind {
		return nil, refuse("%s is not a saved plan (kind %q, want %q): write one with diff --out", path, s.Kind, plan.SavedKind)
	}
	if s.Version != plan.SavedVersion {
		return nil, refuse("%s is a version %d saved plan; this prefect-apply reads version %d", path, s.Version, plan.SavedVersion)
	}
	return &s, nil
}

func fileSHA256(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", &ExitError{Code: ExitFailure, Err: fmt.Errorf("reading %s: %w", path, err)}
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}

func madeAt(s *plan.Saved) string {
	if s.CreatedAt == "" {
		return "made from " + s.Source.File
	}
	return "made " + s.CreatedAt + " from " + s.Source.File
}

func refuse(format string, args ...any) error {
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf(format, args...)}
}
