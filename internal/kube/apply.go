package kube

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/prefect-apply/prefect-apply/internal/redact"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// withData returns the object to send: a Secret gets its values, base64
// encoded, under data.
func withData(obj *unstructured.Unstructured, data map[string][]byte) *unstructured.Unstructured {
	out := obj.DeepCopy()
	if obj.GetKind() == "Secret" && obj.GroupVersionKind().Group == "" {
		m := map[string]any{}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			m[k] = base64.StdEncoding.EncodeToString(data[k])
		}
		out.Object["data"] = m
	}
	return out
}

func (c *Client) patch(ctx context.Context, obj *unstructured.Unstructured, data map[string][]byte, dryRun, force bool) (*unstructured.Unstructured, error) {
	key := state.ObjectKey(obj)
	kd, err := state.ManagedKind(key)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(withData(obj, data).Object)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", key, err)
	}
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: &force}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return retried(ctx, c, func() (*unstructured.Unstructured, error) {
		return c.resource(kd, key.Namespace).Patch(ctx, key.Name, types.ApplyPatchType, body, opts)
	})
}

// Apply server-side applies an object under the prefect-apply field
// manager; data holds a Secret's values. A conflict with another field
// manager fails with ErrConflict naming the fields, unless the client was
// made with ForceConflicts.
func (c *Client) Apply(ctx context.Context, obj *unstructured.Unstructured, data map[string][]byte) error {
	if _, err := c.patch(ctx, obj, data, false, c.force); err != nil {
		return fmt.Errorf("applying %s: %w", state.ObjectKey(obj), c.explain(err))
	}
	return nil
}

// Replace deletes the object obj names and creates it again from obj
// (data holds a Secret's values). It waits for the old object to be gone
// first: one held by finalizers stays, terminating, and applying to it
// would only patch it. The wait is bounded by Options.ReplaceWait.
func (c *Client) Replace(ctx context.Context, obj *unstructured.Unstructured, data map[string][]byte) error {
	key := state.ObjectKey(obj)
	old, found, err := c.Get(ctx, key)
	if err != nil {
		return err
	}
	if found {
		if err := c.delete(ctx, key, old.GetUID()); err != nil {
			return err
		}
		if err := c.waitGone(ctx, key, old.GetUID()); err != nil {
			return err
		}
	}
	if err := c.Apply(ctx, obj, data); err != nil {
		return fmt.Errorf("%w (the old object was deleted)", err)
	}
	return nil
}

// waitGone waits until the object with uid is gone: not found, or found
// with another uid (created again by someone else).
func (c *Client) waitGone(ctx context.Context, key state.Key, uid types.UID) error {
	delay, waited, told := 100*time.Millisecond, time.Duration(0), false
	for {
		o, found, err := c.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("%w (deleted to be replaced, not created again yet: run sync again)", err)
		}
		if !found || o.GetUID() != uid {
			return nil
		}
		if waited >= c.replaceWait {
			return fmt.Errorf("replacing %s: the old object was deleted but is still terminating after %s%s; the new one is not created yet: run sync again once it is gone",
				key, c.replaceWait, state.HeldBy(o))
		}
		if !told && waited >= 2*time.Second && c.notify != nil {
			c.notify(fmt.Sprintf("%s: waiting up to %s for the old object to be gone%s", key, c.replaceWait, state.HeldBy(o)))
			told = true
		}
		if err := c.sleep(ctx, delay); err != nil {
			return fmt.Errorf("replacing %s: the old object was deleted, the new one is not created yet: %w", key, err)
		}
		waited += delay
		delay = min(2*delay, 2*time.Second)
	}
}

// Delete deletes an object; one already gone counts as deleted.
func (c *Client) Delete(ctx context.Context, key state.Key) error {
	return c.delete(ctx, key, "")
}

// delete deletes an object, only the one with uid when uid is set: one
// already gone, or replaced by another, counts as deleted.
func (c *Client) delete(ctx context.Context, key state.Key, uid types.UID) error {
	kd, err := state.ManagedKind(key)
	if err != nil {
		return err
	}
	policy := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &policy}
	if uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	_, err = retried(ctx, c, func() (struct{}, error) {
		return struct{}{}, c.resource(kd, key.Namespace).Delete(ctx, key.Name, opts)
	})
	if err != nil && !apierrors.IsNotFound(err) && !(uid != "" && apierrors.IsConflict(err)) {
		return fmt.Errorf("deleting %s: %w", key, c.explain(err))
	}
	return nil
}

// DryRun is what the server-side apply dry runs of the declared objects
// say.
type DryRun struct {
	// Predicted is what the server would store for each existing object
	// it accepts.
	Predicted map[state.Key]*unstructured.Unstructured
	// Immutable holds the objects the server refuses to change in place (a
	// Secret's type, a binding's roleRef, the data of an immutable
	// ConfigMap): they are to be replaced.
	Immutable map[state.Key]state.Immutable
	// Conflicts holds, for each object some of whose fields another field
	// manager owns with other values, who owns what: applying fails on
	// them unless it forces. Its prediction is the forced outcome, what
	// sync --force-conflicts would store.
	Conflicts map[state.Key][]state.Conflict
	// Refused holds the objects, existing or new, that the server refuses
	// (invalid: a bad data key, a value out of range), with its reason;
	// applying them would fail. Secret values are cut out of the reason.
	Refused map[state.Key]string
	// Unchecked holds the new objects the server would not judge, with
	// why: the identity may not create them (a least-privilege diff), or
	// their namespace is missing. They are planned from the file alone.
	Unchecked map[state.Key]string
}

// Predict asks the server what it would store for each existing object,
// and whether it would accept each new one (created), by a server-side
// apply dry run (as kubectl diff --server-side does), so that defaulting,
// validation and admission are the server's. The dry run does not force:
// a conflict with another field manager is recorded in DryRun.Conflicts,
// and a second, forced, dry run then predicts what taking the fields over
// would store (sync --force-conflicts). An object the server refuses to
// change in place is recorded in DryRun.Immutable, to be replaced; one it
// refuses outright (invalid) in DryRun.Refused. A new object the server
// does not judge (forbidden, or its namespace missing) is recorded in
// DryRun.Unchecked. Other failures are errors.
func (c *Client) Predict(ctx context.Context, existing, created []*unstructured.Unstructured, data map[state.Key]map[string][]byte) (*DryRun, error) {
	out := &DryRun{Predicted: map[state.Key]*unstructured.Unstructured{}, Immutable: map[state.Key]state.Immutable{},
		Conflicts: map[state.Key][]state.Conflict{}, Refused: map[state.Key]string{}, Unchecked: map[state.Key]string{}}
	objs := append(append([]*unstructured.Unstructured{}, existing...), created...)
	var mu sync.Mutex
	err := forEach(ctx, len(objs), func(ctx context.Context, i int) error {
		key := state.ObjectKey(objs[i])
		isNew := i >= len(existing)
		got, err := c.patch(ctx, objs[i], data[key], true, false)
		conflicts, conflicted := conflictsOf(err)
		if conflicted {
			got, err = c.patch(ctx, objs[i], data[key], true, true)
		}
		mu.Lock()
		defer mu.Unlock()
		if im, ok := immutableFields(key, err); ok && !isNew {
			out.Immutable[key] = im
			return nil
		}
		switch {
		case err == nil:
		case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
			out.Refused[key] = redactValues(c.explain(err).Error(), data[key])
			return nil
		case isNew && (apierrors.IsForbidden(err) || apierrors.IsNotFound(err)):
			out.Unchecked[key] = redactValues(c.explain(err).Error(), data[key])
			return nil
		default:
			return fmt.Errorf("dry-run applying %s: %w", key, c.explain(err))
		}
		if !isNew {
			out.Predicted[key] = got
		}
		if conflicted {
			out.Conflicts[key] = conflicts
		}
		return nil
	})
	return out, err
}

// redactValues cuts a Secret's values out of a message of the server's, in
// every form redact.Set knows (as sent, base64, JSON-escaped; values under
// redact.MinLength are left: no message of the API server quotes a
// Secret's data, and cutting short ones would mangle the message).
func redactValues(msg string, data map[string][]byte) string {
	var s redact.Set
	for _, v := range data {
		s.Add(string(v))
	}
	out, _ := s.String(msg, redact.Masked)
	return out
}

// immutableFields reports whether err is the server refusing to change
// fields that are fixed once the object exists, and which. Only kinds whose
// replacement loses nothing qualify: a PersistentVolumeClaim holds data
// and a Namespace everything in it, so their refusals stay errors.
func immutableFields(key state.Key, err error) (state.Immutable, bool) {
	if err == nil || !apierrors.IsInvalid(err) || key.Kind == "PersistentVolumeClaim" || key.Kind == "Namespace" {
		return state.Immutable{}, false
	}
	var se *apierrors.StatusError
	if !errors.As(err, &se) || se.ErrStatus.Details == nil || len(se.ErrStatus.Details.Causes) == 0 {
		return state.Immutable{}, false
	}
	im := state.Immutable{}
	for _, cause := range se.ErrStatus.Details.Causes {
		if !strings.Contains(cause.Message, "immutable") && !strings.Contains(cause.Message, "cannot change") {
			return state.Immutable{}, false
		}
		// "Invalid value: <the value>: field is immutable": the value is
		// in the plan already (masked for a Secret), so only the rule.
		msg := cause.Message
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		im.Fields = append(im.Fields, cause.Field)
		im.Messages = append(im.Messages, cause.Field+": "+msg)
	}
	return im, true
}
