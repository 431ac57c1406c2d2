package plan

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// serverSet are metadata fields the server owns; they never show in a diff.
var serverSet = []string{"managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "finalizers", "ownerReferences"}

// cleanObject returns the object's content without server-set fields and
// status.
func cleanObject(o *unstructured.Unstructured) map[string]any {
	if o == nil {
		return nil
	}
	obj := o.DeepCopy().Object
	delete(obj, "status")
	if md, ok := obj["metadata"].(map[string]any); ok {
		for _, f := range serverSet {
			delete(md, f)
		}
		if ann, ok := md["annotations"].(map[string]any); ok {
			delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
			if len(ann) == 0 {
				delete(md, "annotations")
			}
		}
	}
	return obj
}

// diffObjects compares a desired object (as the server would store it: the
// result of a server-side apply dry run) with the live one.
func diffObjects(key state.Key, d, l *unstructured.Unstructured) []FieldChange {
	var fields []FieldChange
	diffValues("", normalize(cleanObject(l)), normalize(cleanObject(d)), true, true, &fields)
	return mask(key, fields)
}
