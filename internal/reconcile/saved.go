package reconcile

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/plan"
)

// Saved plans: diff --out writes the plan with what it was computed from
// (Save); sync --plan computes the plan again and applies it only if it is
// the saved one, change for change (PlanSaved). The document's format is
// in docs/plan-json.md.

// SavedOptions are the options of in that shape a plan.
func SavedOptions(in Inputs) plan.SavedOptions {
	return plan.SavedOptions{Prune: in.Prune, Adopt: in.Adopt, SkipKubernetes: in.SkipKubernetes, ForceConflicts: in.ForceConflicts,
		AllowOrphaning: in.AllowOrphaning}
}

// PlanForSaving computes the plan as Plan does and seals it for saving, with the
// SHA-256 of the file as it was before it was read.
func PlanForSaving(ctx context.Context, in Inputs) (*Planned, *plan.Saved, error) {
	sha, err := FileSHA256(in.File)
	if err != nil {
		return nil, nil, err
	}
	p, err := Plan(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return nil, nil, fmt.Errorf("saving the plan: %w", err)
	}
	saved, err := p.seal(salt, plan.SavedSource{File: in.File, SHA256: sha}, SavedOptions(in))
	if err != nil {
		return nil, nil, err
	}
	saved.CreatedAt = time.Now().UTC().Format(time.RFC3339)
	return p, saved, nil
}

// StaleError is a saved plan that applying now would not follow: the
// objects that changed since, each with how.
type StaleError struct {
	Path       string
	Saved      *plan.Saved
	Mismatches []plan.Mismatch
}

func (e *StaleError) Error() string {
	n := len(e.Mismatches)
	return fmt.Sprintf("%s is out of date: %d object%s above changed since it was made (%s); nothing was changed: run diff --out again and review the new plan",
		e.Path, n, plural(n), madeAt(e.Saved))
}

// CheckSource refuses a saved plan (read from path) whose salt is unusable
// or that was made from another file than in's, before anything is read.
func CheckSource(saved *plan.Saved, path, file string) error {
	if _, err := saved.Salt(); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	sha, err := FileSHA256(file)
	if err != nil {
		return err
	}
	if sha != saved.Source.SHA256 {
		return fmt.Errorf("%s was made from a different %s (%s, sha256 %.12s; the file now %.12s); nothing was read or changed: run diff --out again and review the new plan",
			path, file, saved.Source.File, saved.Source.SHA256, sha)
	}
	return nil
}

// PlanSaved computes the plan again for a saved one (read from path, for
// messages) and returns it only if it is the saved plan, change for
// change, field for field, Secret values compared by digest. The caller
// has run CheckSource (before anything is read: a wrong file is refused
// first) and put the saved plan's options in in.
func PlanSaved(ctx context.Context, in Inputs, saved *plan.Saved, path string) (*Planned, error) {
	salt, err := saved.Salt()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	p, err := Plan(ctx, in)
	if err != nil {
		return nil, err
	}
	now, err := p.seal(salt, saved.Source, saved.Options)
	if err != nil {
		return nil, err
	}
	if diffs := plan.Compare(saved, now); len(diffs) > 0 {
		return nil, &StaleError{Path: path, Saved: saved, Mismatches: diffs}
	}
	return p, nil
}

func (p *Planned) seal(salt []byte, src plan.SavedSource, opts plan.SavedOptions) (*plan.Saved, error) {
	return plan.Seal(p.Plan, plan.SealInput{Source: src, Options: opts, Salt: salt, Live: p.Live, SecretData: p.Desired.SecretData})
}

// ReadSaved reads a plan diff --out saved, refusing another document or
// another version.
func ReadSaved(path string) (*plan.Saved, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the saved plan: %w", err)
	}
	var s plan.Saved
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%s is not a saved plan (%v): write one with diff --out", path, err)
	}
	if s.Kind != plan.SavedKind {
		return nil, fmt.Errorf("%s is not a saved plan (kind %q, want %q): write one with diff --out", path, s.Kind, plan.SavedKind)
	}
	if s.Version != plan.SavedVersion {
		return nil, fmt.Errorf("%s is a version %d saved plan; this prefect-apply reads version %d", path, s.Version, plan.SavedVersion)
	}
	return &s, nil
}

// FileSHA256 is the hex SHA-256 of a file's content.
func FileSHA256(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
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
