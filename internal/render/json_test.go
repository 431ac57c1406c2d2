package render_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/bench/benchdata"
	"github.com/prefect-apply/prefect-apply/internal/apply"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/render"
)

// wholeDocument is the plan encoded in one piece, as JSON wrote it before
// it wrote the changes one at a time.
func wholeDocument(t *testing.T, p *plan.Plan) []byte {
	t.Helper()
	s := p.Summary()
	doc := render.PlanDocument{
		Version: p.Version, Set: p.Set,
		Summary: render.SummaryJSON{Create: s.Create, Update: s.Update, Replace: s.Replace, Delete: s.Delete, Orphan: s.Orphan, NoOp: s.NoOp,
			Unmanaged: s.Unmanaged, Adopt: s.Adopt, Changes: p.HasChanges()},
		Warnings: []string{},
		Changes:  []render.ChangeJSON{},
	}
	for _, c := range p.Changes {
		doc.Changes = append(doc.Changes, render.ChangeJSON{Change: c, Job: c.Job})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Written change by change, the document is byte for byte the one encoded
// whole: for a first sync, a diff in sync, one change and none.
func TestJSONSameAsWholeDocument(t *testing.T) {
	want, live, opts := benchdata.InSync(10)
	inSync, err := plan.Compute(want, live, opts)
	if err != nil {
		t.Fatal(err)
	}
	first := benchdata.FromEmpty(10)
	one := *first
	one.Changes = first.Changes[:1]
	none := *first
	none.Changes = nil
	for name, p := range map[string]*plan.Plan{"first sync": first, "in sync": inSync, "one change": &one,
		"no change": &none, "first sync of 100": benchdata.FromEmpty(100)} {
		var got bytes.Buffer
		if err := render.JSON(&got, p); err != nil {
			t.Fatal(err)
		}
		if w := wholeDocument(t, p); !bytes.Equal(got.Bytes(), w) {
			t.Errorf("%s: %d bytes differ from the whole document's %d:\n%.2000s", name, got.Len(), len(w), got.String())
		}
		if !json.Valid(got.Bytes()) {
			t.Errorf("%s: not JSON", name)
		}
	}
}

// sync's document, its changes written one at a time, is byte for byte
// the document encoded whole, with and without changes and results.
func TestSyncJSONSameAsWholeDocument(t *testing.T) {
	first := benchdata.FromEmpty(10)
	var results []apply.Result
	for _, c := range first.Changes {
		results = append(results, apply.Result{Key: c.Key, Action: c.Action, Status: apply.Applied, Duration: time.Millisecond})
	}
	none := *first
	none.Changes = nil
	for name, tc := range map[string]struct {
		p   *plan.Plan
		run render.SyncRun
	}{
		"applied":  {first, render.SyncRun{Results: results}},
		"refused":  {first, render.SyncRun{Refused: errors.New("nothing was changed")}},
		"no plan":  {&none, render.SyncRun{}},
		"recorded": {first, render.SyncRun{Results: results[:1], Recorded: errors.New("writing the inventory")}},
	} {
		var got bytes.Buffer
		if err := render.SyncJSON(&got, tc.p, tc.run); err != nil {
			t.Fatal(err)
		}
		var doc render.SyncDocument
		if err := json.Unmarshal(got.Bytes(), &doc); err != nil {
			t.Fatalf("%s: %v\n%.2000s", name, err, got.String())
		}
		var whole bytes.Buffer
		enc := json.NewEncoder(&whole)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), whole.Bytes()) {
			t.Errorf("%s: %d bytes differ from the whole document's %d:\n%.2000s", name, got.Len(), whole.Len(), got.String())
		}
		if len(doc.Changes) != len(tc.p.Changes) || len(doc.Results) != len(tc.run.Results) {
			t.Errorf("%s: %d changes, %d results", name, len(doc.Changes), len(doc.Results))
		}
	}
}
