package render

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/prefect-apply/prefect-apply/internal/jobtemplate"
	"github.com/prefect-apply/prefect-apply/internal/plan"
)

// PlanDocument is the JSON form of a plan (`--output json`). Its version
// field changes only when a field changes meaning or goes away.
type PlanDocument struct {
	Version int    `json:"version"`
	Set     string `json:"set"`
	// ForceConflicts says the plan was made with --force-conflicts: the
	// changes' conflicts are fields sync takes over, not failures.
	ForceConflicts bool        `json:"forceConflicts"`
	Summary        SummaryJSON `json:"summary"`
	// Warnings lists every change's warnings, each after its object:
	// what sync would break without being stopped (--strict stops it).
	Warnings []string     `json:"warnings"`
	Changes  []ChangeJSON `json:"changes"`
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
	Unmanaged int `json:"unmanaged"`
	Adopt     int `json:"adopt"`
	// Conflicts counts the changes with fields other field managers own
	// (changes[].conflicts).
	Conflicts int `json:"conflicts"`
	// Problems counts the changes the API server refused in a dry run
	// (changes[].problem).
	Problems int `json:"problems"`
	// Blocked counts the changes sync refuses because they would strand
	// deployments (changes[].impact.blocked) without --allow-orphaning.
	Blocked int  `json:"blocked"`
	Changes bool `json:"changes"`
}

// JSON writes the plan as an indented JSON document. The changes are
// encoded one at a time, straight to w: the plan of a first sync of 1000
// pools is 16 MB of JSON, which encoding it whole held in memory three
// times over. A change that cannot be encoded stops the document where it
// is, with the error.
func JSON(w io.Writer, p *plan.Plan) error {
	return writeDocument(w, planDocument(p), p.Changes)
}

// planDocument is the plan's document without its changes: writeDocument
// writes them.
func planDocument(p *plan.Plan) PlanDocument {
	s := p.Summary()
	return PlanDocument{
		Version: p.Version, Set: p.Set, ForceConflicts: p.ForceConflicts,
		Summary: SummaryJSON{Create: s.Create, Update: s.Update, Replace: s.Replace, Delete: s.Delete, Orphan: s.Orphan, NoOp: s.NoOp,
			Unmanaged: s.Unmanaged, Adopt: s.Adopt, Conflicts: s.Conflicts, Problems: s.Problems, Blocked: len(p.Blocked()), Changes: p.HasChanges()},
		Warnings: append([]string{}, p.Warnings()...),
		Changes:  []ChangeJSON{},
	}
}

// changesField is how the empty list of changes of a document without
// them is encoded: a key of the top-level object, indented by two spaces
// (a string cannot hold the newline, a nested object is indented more).
const changesField = "\n  \"changes\": []"

// writeDocument writes doc, a document whose changes are an empty list,
// indented, with changes in place of that list, encoded one at a time.
func writeDocument(w io.Writer, doc any, changes []plan.Change) error {
	head, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	at := bytes.Index(head, []byte(changesField))
	if at < 0 {
		return fmt.Errorf("encoding the plan: the document has no list of changes")
	}
	bw := bufio.NewWriter(w)
	if len(changes) == 0 {
		bw.Write(head)
	} else {
		end := at + len(changesField)
		bw.Write(head[:end-1])
		for i := range changes {
			c, err := json.MarshalIndent(ChangeJSON{changes[i], changes[i].Job}, "    ", "  ")
			if err != nil {
				return err
			}
			if i > 0 {
				bw.WriteString(",")
			}
			bw.WriteString("\n    ")
			bw.Write(c)
		}
		bw.WriteString("\n  ]")
		bw.Write(head[end:])
	}
	bw.WriteString("\n")
	return bw.Flush()
}

// ChangeJSON is a change as the JSON plan shows it: with the effective
// job of a created or replaced pool (plan.Change.Job), which a saved plan
// does not hold.
type ChangeJSON struct {
	plan.Change
	Job *jobtemplate.Job `json:"job,omitempty"`
}
