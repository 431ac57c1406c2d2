package plan

import (
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// diffPool compares the fields a file manages. A nil desired description or
// paused flag is unmanaged; a nil concurrency limit means "no limit".
func diffPool(d, l *state.Pool) ([]FieldChange, state.Fields) {
	fields, updates := diffCommon(common{d.Description, d.Paused}, common{l.Description, l.Paused})
	fields, updates = diffLimit(d.ConcurrencyLimit, l.ConcurrencyLimit, fields, updates)
	if d.BaseJobTemplate != nil {
		before := len(fields)
		diffValues("baseJobTemplate", normalize(l.BaseJobTemplate), normalize(d.BaseJobTemplate), true, true, &fields)
		if len(fields) > before {
			updates |= state.FieldBaseJobTemplate
		}
	}
	return fields, updates
}

// common are the settings pools and queues share.
type common struct {
	description *string
	paused      *bool
}

// diffCommon compares description and paused; nil in the file means
// unmanaged.
func diffCommon(d, l common) ([]FieldChange, state.Fields) {
	var fields []FieldChange
	var updates state.Fields
	if d.description != nil && *d.description != str(l.description) {
		fields = append(fields, change("description", str(l.description), *d.description))
		updates |= state.FieldDescription
	}
	if d.paused != nil && *d.paused != boolean(l.paused) {
		fields = append(fields, change("paused", boolean(l.paused), *d.paused))
		updates |= state.FieldPaused
	}
	return fields, updates
}

// diffLimit compares concurrency limits; nil is "no limit", so it is
// always managed: an update to nil removes the limit.
func diffLimit(d, l *int, fields []FieldChange, updates state.Fields) ([]FieldChange, state.Fields) {
	if !sameInt(d, l) {
		fields = append(fields, intChange("concurrencyLimit", l, d))
		updates |= state.FieldConcurrencyLimit
	}
	return fields, updates
}

func diffQueue(d, l *state.Queue) ([]FieldChange, state.Fields) {
	fields, updates := diffCommon(common{d.Description, d.Paused}, common{l.Description, l.Paused})
	if d.Priority != nil && !sameInt(d.Priority, l.Priority) {
		fields = append(fields, intChange("priority", l.Priority, d.Priority))
		updates |= state.FieldPriority
	}
	return diffLimit(d.ConcurrencyLimit, l.ConcurrencyLimit, fields, updates)
}

// poolFields lists what a new pool is created with.
func poolFields(d *state.Pool) []FieldChange {
	fields := []FieldChange{added("type", d.Type)}
	if d.Description != nil {
		fields = append(fields, added("description", *d.Description))
	}
	if d.Paused != nil {
		fields = append(fields, added("paused", *d.Paused))
	}
	if d.ConcurrencyLimit != nil {
		fields = append(fields, added("concurrencyLimit", *d.ConcurrencyLimit))
	}
	if d.BaseJobTemplate != nil {
		fields = append(fields, added("baseJobTemplate", normalize(d.BaseJobTemplate)))
	}
	return fields
}

func queueFields(d *state.Queue) []FieldChange {
	var fields []FieldChange
	if d.Priority != nil {
		fields = append(fields, added("priority", *d.Priority))
	}
	if d.Description != nil {
		fields = append(fields, added("description", *d.Description))
	}
	if d.Paused != nil {
		fields = append(fields, added("paused", *d.Paused))
	}
	if d.ConcurrencyLimit != nil {
		fields = append(fields, added("concurrencyLimit", *d.ConcurrencyLimit))
	}
	return fields
}

func change(path string, old, new any) FieldChange {
	return FieldChange{Path: path, Old: old, New: new, HasOld: true, HasNew: true}
}

func added(path string, v any) FieldChange { return FieldChange{Path: path, New: v, HasNew: true} }

// intChange renders a nil limit as absent ("no limit").
func intChange(path string, old, new *int) FieldChange {
	f := FieldChange{Path: path, HasOld: old != nil, HasNew: new != nil}
	if old != nil {
		f.Old = *old
	}
	if new != nil {
		f.New = *new
	}
	return f
}

func sameInt(a, b *int) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func boolean(p *bool) bool { return p != nil && *p }
