package plan

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// unmanaged turns a change of a declared object that exists but that the
// set does not own into an Unmanaged one: shown with what differs from the
// file, never applied. others names the sets that do own it, if any.
func (c *computer) unmanaged(ch Change, others []string) Change {
	ch.Action = Unmanaged
	ch.Unowned = true
	ch.Updates = 0
	ch.OtherSets = others
	owner := c.managedBy(others)
	ch.Reason = "exists, " + owner + "; --adopt takes it over"
	if len(ch.Fields) > 0 {
		ch.Reason = "exists and differs from the file, " + owner + "; --adopt takes it over and applies the differences"
	}
	return ch
}

// managedBy says who manages an object the set does not own: `managed by
// set "a", not by set "b"`, or `not managed by set "b"`.
func (c *computer) managedBy(others []string) string {
	if len(others) == 0 {
		return fmt.Sprintf("not managed by set %q", c.opts.Set)
	}
	return fmt.Sprintf("managed by %s, not by set %q", SetNames(others), c.opts.Set)
}

// SetNames names sets for people: `set "a"`, `sets "a" and "b"`.
func SetNames(sets []string) string {
	if len(sets) == 1 {
		return fmt.Sprintf("set %q", sets[0])
	}
	quoted := make([]string, len(sets))
	for i, s := range sets {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	if len(quoted) == 0 {
		return "no set"
	}
	return "sets " + strings.Join(quoted[:len(quoted)-1], ", ") + " and " + quoted[len(quoted)-1]
}

// withoutOwnership returns a copy of a Kubernetes object without the
// ownership labels, so that an object nobody labelled compares equal to
// the file when only the labels differ.
func withoutOwnership(o *unstructured.Unstructured) *unstructured.Unstructured {
	if o == nil {
		return nil
	}
	out := o.DeepCopy()
	labels := out.GetLabels()
	if labels == nil {
		return out
	}
	delete(labels, state.ManagedByLabel)
	delete(labels, state.SetLabel)
	if len(labels) == 0 {
		unstructured.RemoveNestedField(out.Object, "metadata", "labels")
		return out
	}
	out.SetLabels(labels)
	return out
}

// otherSet names the prefect-apply set a live object is labelled with, or "".
func otherSet(o *unstructured.Unstructured) string {
	l := o.GetLabels()
	if l[state.ManagedByLabel] != state.ManagedByValue {
		return ""
	}
	return l[state.SetLabel]
}

// Adopted reports whether applying the change takes the object over: it
// exists, the set does not own it yet, and --adopt was given.
func (c Change) Adopted() bool { return c.Unowned && c.Action != Unmanaged }
