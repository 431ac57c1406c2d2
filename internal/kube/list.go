package kube

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// List returns every object of a kind (the Kind and Group of kind), in one
// namespace or, when namespace is "", in all of them: one paged list call.
// export uses it to find the bindings that grant a service account its
// permissions.
func (c *Client) List(ctx context.Context, kind state.Key, namespace string) ([]*unstructured.Unstructured, error) {
	kd, err := state.ManagedKind(kind)
	if err != nil {
		return nil, err
	}
	r := c.dyn.Resource(gvr(kd))
	var ri interface {
		List(context.Context, metav1.ListOptions) (*unstructured.UnstructuredList, error)
	} = r
	if kd.Scope == state.Namespaced && namespace != "" {
		ri = r.Namespace(namespace)
	}
	var out []*unstructured.Unstructured
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := retried(ctx, c, func() (*unstructured.UnstructuredList, error) { return ri.List(ctx, opts) })
		if err != nil {
			return nil, fmt.Errorf("listing %ss: %w", kd.Kind, c.explain(err))
		}
		for i := range list.Items {
			o := &list.Items[i]
			o.SetAPIVersion(kd.APIVersion())
			o.SetKind(kd.Kind)
			out = append(out, o)
		}
		if opts.Continue = list.GetContinue(); opts.Continue == "" {
			return out, nil
		}
	}
}
