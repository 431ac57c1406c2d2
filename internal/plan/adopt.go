package plan

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// unmanaged turns a change of a declared object that exists but that the
// set does not own into an Unmanaged one: shown with what differs from the
// file, never applied. other names the set that does own it, if any.
func (c *computer) unmanaged(ch Change, other string) Change {
	ch.Action = Unmanaged
	ch.Unowned = true
	ch.Patch = nil
	owner := "not managed by set " + fmt.Sprintf("%q", c.opts.Set)
	if other != "" && other != c.opts.Set {
		owner = fmt.Sprintf("managed by set %q, not by set %q", other, c.opts.Set)
	}
	ch.Reason = "exists, " + owner + "; --adopt takes it over"
	if len(ch.Fields) > 0 {
		ch.Reason = "exists and differs from the file, " + owner + "; --adopt takes it over and applies the differences"
	}
	return ch
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
