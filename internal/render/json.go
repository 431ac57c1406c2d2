package render

import (
	"encoding/json"
	"io"
	"sort"

	"github.com/prefect-apply/prefect-apply/internal/plan"
)

// PlanDocument is the JSON form of a plan (`--output json`). Its version
// field changes only when a field changes meaning or goes away.
type PlanDocument struct {
	Version int           `json:"version"`
	Set     string        `json:"set"`
	Summary SummaryJSON   `json:"summary"`
	Changes []plan.Change `json:"changes"`
}

// SummaryJSON counts changes by action.
type SummaryJSON struct {
	Create  int `json:"create"`
	Update  int `json:"update"`
	Replace int `json:"replace"`
	Delete  int `json:"delete"`
	Orphan  int `json:"orphan"`
	NoOp    int `json:"noop"`
	// Unmanaged counts declared objects that exist but that the set does
	// not own (left alone without --adopt); Adopt the changes that take an
	// object over (with --adopt).
	Unmanaged int  `json:"unmanaged"`
	Adopt     int  `json:"adopt"`
	Changes   bool `json:"changes"`
}

// JSON writes the plan as an indented JSON document.
func JSON(w io.Writer, p *plan.Plan) error {
	s := p.Summary()
	doc := PlanDocument{
		Version: p.Version, Set: p.Set,
		Summary: SummaryJSON{Create: s.Create, Update: s.Update, Replace: s.Replace, Delete: s.Delete, Orphan: s.Orphan, NoOp: s.NoOp,
			Unmanaged: s.Unmanaged, Adopt: s.Adopt, Changes: p.HasChanges()},
		Changes: p.Changes,
	}
	if doc.Changes == nil {
		doc.Changes = []plan.Change{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func sortStrings(s []string) { sort.Strings(s) }
