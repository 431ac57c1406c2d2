package state

import (
	"slices"
	"testing"
)

// Fields lists its members in the order of the constants, whatever order
// they were added in, and names them as the plan does.
func TestFields(t *testing.T) {
	s := FieldPriority | FieldDescription | FieldConcurrencyLimit
	if got := slices.Collect(s.All()); !slices.Equal(got, []Fields{FieldDescription, FieldConcurrencyLimit, FieldPriority}) {
		t.Errorf("All() = %v", got)
	}
	if got := s.String(); got != "description,concurrencyLimit,priority" {
		t.Errorf("String() = %q", got)
	}
	if !s.Has(FieldDescription|FieldPriority) || s.Has(FieldPaused) || s.Has(FieldPaused|FieldPriority) {
		t.Errorf("Has is wrong for %s", s)
	}
	if got := Fields(0).String(); got != "" {
		t.Errorf("empty set: %q", got)
	}
}

// Declared lists the fields that hold a value: a zero limit is one.
func TestDeclared(t *testing.T) {
	zero, desc := 0, "d"
	if got := (&Pool{ConcurrencyLimit: &zero, BaseJobTemplate: map[string]any{}}).Declared(); got != FieldConcurrencyLimit|FieldBaseJobTemplate {
		t.Errorf("pool: %s", got)
	}
	if got := (&Queue{Description: &desc, Priority: &zero}).Declared(); got != FieldDescription|FieldPriority {
		t.Errorf("queue: %s", got)
	}
	if got := (&Pool{}).Declared(); got != 0 {
		t.Errorf("empty pool: %s", got)
	}
}
