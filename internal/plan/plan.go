// Package plan computes what must change for the live state to match the
// desired state. Compute is pure: no clients, no I/O. It normalises both
// sides (server-set fields, number types, key order, the automatic default
// queue) so that a sync followed by a diff shows nothing, and records every
// change with its field-level differences, secret values masked.
package plan

import (
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/jobtemplate"
	"github.com/prefect-apply/prefect-apply/internal/redact"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// FormatVersion is the version of the plan's JSON form.
const FormatVersion = 1

// Action is what a change does.
type Action string

const (
	Create  Action = "create"
	Update  Action = "update"
	Replace Action = "replace"
	Delete  Action = "delete"
	// Orphan is a managed object that left the file: deleted only with --prune.
	Orphan Action = "orphan"
	// Unmanaged is a declared object that exists but that the set does not
	// own (not in the inventory, or without the ownership labels): left
	// alone, taken over only with --adopt.
	Unmanaged Action = "unmanaged"
	NoOp      Action = "no-op"
)

// Masked stands in for a secret value in every rendering.
const Masked = redact.Masked

// FieldChange is one difference in one field.
type FieldChange struct {
	// Path is the field, e.g. "concurrencyLimit" or
	// "baseJobTemplate.variables.properties.image.default".
	Path string `json:"path"`
	// Old and New are JSON values; absent when the field is added or
	// removed, Masked when Sensitive.
	Old       any  `json:"old,omitempty"`
	New       any  `json:"new,omitempty"`
	HasOld    bool `json:"hasOld"`
	HasNew    bool `json:"hasNew"`
	Sensitive bool `json:"sensitive,omitempty"`
}

// Change is what happens to one object.
type Change struct {
	Key    state.Key     `json:"key"`
	Action Action        `json:"action"`
	Fields []FieldChange `json:"fields,omitempty"`
	// Reason explains a replace or an orphan.
	Reason string `json:"reason,omitempty"`
	// Kept marks an orphan that --prune does not delete either; Reason
	// says why (a pool that holds queues the set does not own, an object
	// the file still uses).
	Kept bool `json:"kept,omitempty"`
	// OtherSets names the other sets that manage the object: those whose
	// inventory lists the pool or queue, or the set a Kubernetes object's
	// labels name. On an unmanaged change they own it; on a change with
	// Take, applying takes it from them; on any other change, they list it
	// too (both inventories were written before ownership was exclusive),
	// and --adopt would take it.
	OtherSets []string `json:"otherSets,omitempty"`
	// Take marks a change, under --adopt, that takes the object from
	// OtherSets: a pool or queue leaves their inventories (a pool with its
	// default queue), a Kubernetes object is labelled with this set.
	Take bool `json:"take,omitempty"`
	// Release marks a kept orphan, under --prune, that other sets manage
	// too: applying drops it from this set's inventory and leaves it to
	// them, deleting nothing.
	Release bool `json:"release,omitempty"`
	// Implicit marks a default queue of a pool being created: the server
	// creates it with the pool, so applying updates its fields.
	Implicit bool `json:"implicit,omitempty"`
	// Unowned is set when the object exists but is not recorded as owned
	// by this set: with --adopt, applying records it (and a no-op change
	// then still writes the ownership); without, the action is Unmanaged.
	Unowned bool `json:"unowned,omitempty"`
	// Terminating marks the replace of a Kubernetes object already being
	// deleted: it deletes nothing that was not going already, so it needs
	// no --allow-replace; applying it waits for the object to be gone.
	Terminating bool `json:"terminating,omitempty"`
	// Conflicts lists the fields of a Kubernetes object that other field
	// managers own with values other than the file's, by manager: applying
	// fails on them unless the plan forces (Plan.ForceConflicts), which
	// takes them over. Fields shows the forced outcome.
	Conflicts []state.Conflict `json:"conflicts,omitempty"`
	// Problem is the API server's refusal of the file's object in a dry
	// run (invalid): applying it would fail, so sync changes nothing while
	// a change has one.
	Problem string `json:"problem,omitempty"`
	// Fingerprint identifies the live object the change was computed
	// against (Prefect `updated`, Kubernetes resourceVersion).
	Fingerprint string `json:"fingerprint,omitempty"`
	// DependsOn lists the keys whose changes must succeed first.
	DependsOn []state.Key `json:"dependsOn,omitempty"`
	// Impact is what a risky change does to the deployments that target
	// its pool or queue and to their runs (see Assess); nil when none.
	Impact *Impact `json:"impact,omitempty"`
	// Warnings are what the change breaks without stopping sync: a
	// deployment's job variables that a pool's new template drops or
	// refuses.
	Warnings []string `json:"warnings,omitempty"`

	// Job is the job a created or replaced pool runs for a deployment
	// that overrides nothing (jobtemplate.EffectiveJob), for reviewers:
	// rendered after the fields, and in the JSON plan as changes[].job,
	// but not part of a saved plan.
	Job *jobtemplate.Job `json:"-"`

	// What the applier sends; not part of the rendered plan.
	Pool   *state.Pool                `json:"-"`
	Queue  *state.Queue               `json:"-"`
	Object *unstructured.Unstructured `json:"-"`
	// Updates lists the fields of Pool or Queue an update sets, to their
	// values there: only what changes. A nil value clears the field (a
	// nil concurrency limit removes the limit).
	Updates state.Fields `json:"-"`
}

// Plan is every change, in apply order.
type Plan struct {
	Version int    `json:"version"`
	Set     string `json:"set"`
	// ForceConflicts says applying takes over the fields other field
	// managers own (--force-conflicts): the changes' Conflicts do not
	// stop it.
	ForceConflicts bool     `json:"forceConflicts,omitempty"`
	Changes        []Change `json:"changes"`
}

// Summary counts changes by action. Adopt counts the changes that take an
// existing object over (--adopt), whatever their action, and those that
// take one from other sets that manage it too; Kept counts the
// orphans that --prune keeps too (they are among Orphan).
type Summary struct {
	Create, Update, Replace, Delete, Orphan, Unmanaged, NoOp, Adopt, Kept int
	// Conflicts counts the changes with fields other field managers own,
	// Problems those the API server refused in a dry run.
	Conflicts, Problems int
}

// Summary counts the plan's changes.
func (p *Plan) Summary() Summary {
	var s Summary
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			s.Create++
		case Update:
			s.Update++
		case Replace:
			s.Replace++
		case Delete:
			s.Delete++
		case Orphan:
			s.Orphan++
			if c.Kept {
				s.Kept++
			}
		case Unmanaged:
			s.Unmanaged++
		case NoOp:
			s.NoOp++
		}
		if c.Adopted() || c.Take && c.Action != Create {
			s.Adopt++
		}
		if len(c.Conflicts) > 0 {
			s.Conflicts++
		}
		if c.Problem != "" {
			s.Problems++
		}
	}
	return s
}

// Writes reports whether applying the plan writes anything: a change, the
// ownership of an adopted object, or an orphan the set lets go of.
func (p *Plan) Writes() bool {
	return slices.ContainsFunc(p.Changes, Change.Writes)
}

// Writes reports whether applying the change writes anything: to the
// object, or to the ownership records (an object adopted or taken from
// another set, an orphan the set lets go of).
func (c Change) Writes() bool {
	switch c.Action {
	case Create, Update, Replace, Delete:
		return true
	}
	return c.Adopted() || c.Take || c.Release
}

// HasChanges reports whether the live state differs from the file: the
// test behind diff's exit status 2, and status's drift.
func (p *Plan) HasChanges() bool {
	return slices.ContainsFunc(p.Changes, Change.Differs)
}

// Differs is HasChanges for one change: it writes, or the object is
// declared, not managed by the set and differs from the file (applying
// leaves it alone until --adopt). Orphans do not count: without --prune
// they are only reported; nor do unmanaged objects that match the file.
func (c Change) Differs() bool {
	return c.Writes() || c.Action == Unmanaged && len(c.Fields) > 0
}

// Pending returns the changes that write something to an object. Adopting
// an object that matches the file is a no-op here: only the ownership
// record changes.
func (p *Plan) Pending() []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Action != NoOp && c.Action != Orphan && c.Action != Unmanaged {
			out = append(out, c)
		}
	}
	return out
}

// Problems returns the changes the API server refused in a dry run.
func (p *Plan) Problems() []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Problem != "" {
			out = append(out, c)
		}
	}
	return out
}
