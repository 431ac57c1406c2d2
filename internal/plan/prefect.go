package plan

import (
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// diffPool compares the fields a file manages. A nil desired description or
// paused flag is unmanaged; a nil concurrency limit means "no limit".
func diffPool(d, l *state.Pool) ([]FieldChange, map[string]any) {
	fields, patch := diffCommon(common{d.Description, d.Paused}, common{l.Description, l.Paused})
	fields = diffLimit(d.ConcurrencyLimit, l.ConcurrencyLimit, fields, patch)
	if d.BaseJobTemplate != nil {
		before := len(fields)
		diffValues("baseJobTemplate", normalize(l.BaseJobTemplate), normalize(d.BaseJobTemplate), true, true, &fields)
		if len(fields) > before {
			patch["base_job_template"] = d.BaseJobTemplate
		}
	}
	return fields, patch
}

// common are the settings pools and queues share.
type common struct {
	description *string
	paused      *bool
}

// diffCommon compares description and paused; nil in the file means
// unmanaged.
func diffCommon(d, l common) ([]FieldChange, map[string]any) {
	var fields []FieldChange
	patch := map[string]any{}
	if d.description != nil && *d.description != str(l.description) {
		fields = append(fields, change("description", str(l.description), *d.description))
		patch["description"] = *d.description
	}
	if d.paused != nil && *d.paused != boolean(l.paused) {
		fields = append(fields, change("paused", boolean(l.paused), *d.paused))
		patch["is_paused"] = *d.paused
	}
	return fields, patch
}

// diffLimit compares concurrency limits; nil is "no limit", so it is
// always managed.
func diffLimit(d, l *int, fields []FieldChange, patch map[string]any) []FieldChange {
	if !sameInt(d, l) {
		fields = append(fields, intChange("concurrencyLimit", l, d))
		patch["concurrency_limit"] = intOrNil(d)
	}
	return fields
}

func diffQueue(d, l *state.Queue) ([]FieldChange, map[string]any) {
	fields, patch := diffCommon(common{d.Description, d.Paused}, common{l.Description, l.Paused})
	if d.Priority != nil && !sameInt(d.Priority, l.Priority) {
		fields = append(fields, intChange("priority", l.Priority, d.Priority))
		patch["priority"] = *d.Priority
	}
	fields = diffLimit(d.ConcurrencyLimit, l.ConcurrencyLimit, fields, patch)
	return fields, patch
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

func intOrNil(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func boolean(p *bool) bool { return p != nil && *p }
