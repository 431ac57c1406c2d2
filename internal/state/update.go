package state

import (
	"iter"
	"strings"
)

// Fields is a set of the settings of a pool or queue that a write sets:
// one constant per field, combined with |. The names are the model's, not
// the Prefect API's: the Prefect client maps them to its wire names.
type Fields uint8

const (
	FieldDescription Fields = 1 << iota
	FieldPaused
	FieldConcurrencyLimit
	// FieldBaseJobTemplate is a pool's only.
	FieldBaseJobTemplate
	// FieldPriority is a queue's only.
	FieldPriority

	// fieldsEnd is one past the last field.
	fieldsEnd
)

// fieldNames are the fields' names as the plan shows them.
var fieldNames = map[Fields]string{
	FieldDescription:      "description",
	FieldPaused:           "paused",
	FieldConcurrencyLimit: "concurrencyLimit",
	FieldBaseJobTemplate:  "baseJobTemplate",
	FieldPriority:         "priority",
}

// Has reports whether s holds every field of f.
func (s Fields) Has(f Fields) bool { return s&f == f }

// All yields the fields of s one by one, in the order of the constants.
func (s Fields) All() iter.Seq[Fields] {
	return func(yield func(Fields) bool) {
		for f := Fields(1); f < fieldsEnd; f <<= 1 {
			if s&f != 0 && !yield(f) {
				return
			}
		}
	}
}

// String names the fields, comma-separated: "description,priority".
func (s Fields) String() string {
	var names []string
	for f := range s.All() {
		names = append(names, fieldNames[f])
	}
	return strings.Join(names, ",")
}

// Declared returns the fields p holds a value for: for a desired pool,
// those the file manages.
func (p *Pool) Declared() Fields {
	var s Fields
	if p.Description != nil {
		s |= FieldDescription
	}
	if p.Paused != nil {
		s |= FieldPaused
	}
	if p.ConcurrencyLimit != nil {
		s |= FieldConcurrencyLimit
	}
	if p.BaseJobTemplate != nil {
		s |= FieldBaseJobTemplate
	}
	return s
}

// Declared returns the fields q holds a value for: for a desired queue,
// those the file manages.
func (q *Queue) Declared() Fields {
	var s Fields
	if q.Description != nil {
		s |= FieldDescription
	}
	if q.Paused != nil {
		s |= FieldPaused
	}
	if q.ConcurrencyLimit != nil {
		s |= FieldConcurrencyLimit
	}
	if q.Priority != nil {
		s |= FieldPriority
	}
	return s
}

// PoolUpdate sets Fields of an existing pool to Pool's values and leaves
// the others alone. A nil value clears the field: a nil ConcurrencyLimit
// removes the limit.
type PoolUpdate struct {
	Fields Fields
	Pool   *Pool
}

// QueueUpdate sets Fields of an existing queue to Queue's values and
// leaves the others alone. A nil value clears the field: a nil
// ConcurrencyLimit removes the limit.
type QueueUpdate struct {
	Fields Fields
	Queue  *Queue
}
