package clitest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/render"
)

// ParsePlan decodes a JSON plan (`--output json`, docs/plan-json.md)
// through the product's own type, strictly: one document, no field the
// type does not know, nothing after it. sync's document (the plan with
// its results) is read as its plan.
func ParsePlan(tb testing.TB, out string) render.PlanDocument {
	tb.Helper()
	return parse(tb, out).PlanDocument
}

// ParseSync decodes sync's JSON document (`sync --output json`) as
// ParsePlan does, and fails unless it has its results.
func ParseSync(tb testing.TB, out string) render.SyncDocument {
	tb.Helper()
	doc := parse(tb, out)
	if doc.Results == nil {
		tb.Fatalf("the sync document has no results:\n%s", lastLines(out, 60))
	}
	return doc
}

func parse(tb testing.TB, out string) render.SyncDocument {
	tb.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var doc render.SyncDocument
	if err := dec.Decode(&doc); err != nil {
		tb.Fatalf("the JSON document does not parse: %v\n%s", err, lastLines(out, 60))
	}
	if dec.More() {
		tb.Fatalf("text after the JSON document:\n%s", lastLines(out, 60))
	}
	return doc
}

// lastLines returns the last n lines of s, saying how many came before.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) <= n {
		return s
	}
	return fmt.Sprintf("... (%d lines before)\n", len(lines)-n) + strings.Join(lines[len(lines)-n:], "\n")
}
