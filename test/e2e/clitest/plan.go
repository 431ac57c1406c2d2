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
// type does not know, nothing after it.
func ParsePlan(tb testing.TB, out string) render.PlanDocument {
	tb.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var doc render.PlanDocument
	if err := dec.Decode(&doc); err != nil {
		tb.Fatalf("the JSON plan does not parse: %v\n%s", err, lastLines(out, 60))
	}
	if dec.More() {
		tb.Fatalf("text after the JSON plan:\n%s", lastLines(out, 60))
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
