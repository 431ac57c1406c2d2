package kube

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

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
	kd, err := kindOf(key)
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
	return c.resource(kd, key.Namespace).Patch(ctx, key.Name, types.ApplyPatchType, body, opts)
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

// Delete deletes an object; one already gone counts as deleted.
func (c *Client) Delete(ctx context.Context, key state.Key) error {
	kd, err := kindOf(key)
	if err != nil {
		return err
	}
	policy := metav1.DeletePropagationBackground
	err = c.resource(kd, key.Namespace).Delete(ctx, key.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s: %w", key, c.explain(err))
	}
	return nil
}

// Predict asks the server what it would store for each object, by a
// server-side apply dry run (as kubectl diff --server-side does), so that
// defaulting and admission are the server's. Conflicts are forced in the
// dry run: the prediction shows the outcome, and sync reports the conflict.
func (c *Client) Predict(ctx context.Context, objs []*unstructured.Unstructured, data map[state.Key]map[string][]byte) (map[state.Key]*unstructured.Unstructured, error) {
	out := map[state.Key]*unstructured.Unstructured{}
	var mu sync.Mutex
	err := forEach(ctx, len(objs), func(ctx context.Context, i int) error {
		key := state.ObjectKey(objs[i])
		got, err := c.patch(ctx, objs[i], data[key], true, true)
		if err != nil {
			return fmt.Errorf("dry-run applying %s: %w", key, c.explain(err))
		}
		mu.Lock()
		out[key] = got
		mu.Unlock()
		return nil
	})
	return out, err
}
