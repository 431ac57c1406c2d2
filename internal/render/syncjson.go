package render

import (
	"io"

	"github.com/prefect-apply/prefect-apply/internal/apply"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// SyncDocument is sync's JSON document (`sync --output json`): the plan's
// document, then what applying it did. It shares the plan document's
// version.
type SyncDocument struct {
	PlanDocument
	// Results has one entry per change sync applied or tried to, in the
	// order it applied them; empty when it applied nothing.
	Results       []ResultJSON      `json:"results"`
	ResultSummary ResultSummaryJSON `json:"resultSummary"`
	// InventoryError is the error of the inventory write after applying:
	// the results' changes were made all the same.
	InventoryError string `json:"inventoryError,omitempty"`
	// Refused says why sync applied nothing at all: a refusal of the plan,
	// a confirmation not given, or the inventory not written before the
	// first change.
	Refused string `json:"refused,omitempty"`
}

// ResultJSON is the outcome of one change.
type ResultJSON struct {
	Key    state.Key    `json:"key"`
	Action plan.Action  `json:"action"`
	Status apply.Status `json:"status"`
	// Error says why a change failed or was skipped.
	Error string `json:"error,omitempty"`
	// DurationMs is how long applying the change took, in milliseconds
	// (0 for a change skipped).
	DurationMs int64 `json:"durationMs"`
	// Implicit marks a pool's default queue, created with its pool.
	Implicit bool `json:"implicit,omitempty"`
}

// ResultSummaryJSON counts the results by status.
type ResultSummaryJSON struct {
	Applied int `json:"applied"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// SyncRun is what sync did with a plan.
type SyncRun struct {
	Results []apply.Result
	// Recorded is the error of the inventory write after applying.
	Recorded error
	// Refused is why sync applied nothing; nil when it applied the plan.
	Refused error
	// Mask replaces the secret values a message may hold; nil leaves
	// messages as they are.
	Mask func(string) string
}

// SyncJSON writes sync's document: the plan, as JSON writes it, and what
// applying it did, every message masked.
func SyncJSON(w io.Writer, p *plan.Plan, run SyncRun) error {
	mask := run.Mask
	if mask == nil {
		mask = func(s string) string { return s }
	}
	doc := SyncDocument{PlanDocument: planDocument(p), Results: make([]ResultJSON, 0, len(run.Results))}
	for _, r := range run.Results {
		doc.Results = append(doc.Results, ResultJSON{Key: r.Key, Action: r.Action, Status: r.Status, Error: mask(r.Error),
			DurationMs: r.Duration.Milliseconds(), Implicit: r.Implicit})
		switch r.Status {
		case apply.Applied:
			doc.ResultSummary.Applied++
		case apply.Failed:
			doc.ResultSummary.Failed++
		default:
			doc.ResultSummary.Skipped++
		}
	}
	if run.Recorded != nil {
		doc.InventoryError = mask(run.Recorded.Error())
	}
	if run.Refused != nil {
		doc.Refused = mask(run.Refused.Error())
	}
	return writeDocument(w, doc, p.Changes)
}
