package kube

import (
	"context"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// concurrency bounds the requests prefect-apply has in flight.
const concurrency = 8

// ReadLive returns the live objects that matter to a set: every object
// labelled as the set's (one paged list per kind), plus each declared
// object the lists missed, which may exist unlabelled. Namespaced kinds are
// listed across the cluster when namespaces is nil, else in each of those
// namespaces only (so that a reader needs no cluster-wide list of Secrets).
func (c *Client) ReadLive(ctx context.Context, set string, declared []state.Key, namespaces []string) (map[state.Key]*unstructured.Unstructured, error) {
	selector := labels.SelectorFromSet(labels.Set{state.ManagedByLabel: state.ManagedByValue, state.SetLabel: set}).String()
	type listing struct {
		kd state.KindInfo
		ns string // "" for the whole cluster
	}
	var lists []listing
	for _, kd := range state.Kinds {
		if kd.Scope == state.ClusterScoped || namespaces == nil {
			lists = append(lists, listing{kd: kd})
			continue
		}
		for _, ns := range namespaces {
			lists = append(lists, listing{kd: kd, ns: ns})
		}
	}
	live := map[state.Key]*unstructured.Unstructured{}
	var mu sync.Mutex
	err := forEach(ctx, len(lists), func(ctx context.Context, i int) error {
		kd, ns := lists[i].kd, lists[i].ns
		opts := metav1.ListOptions{LabelSelector: selector, Limit: 500}
		for {
			list, err := retried(ctx, c, func() (*unstructured.UnstructuredList, error) {
				if ns != "" {
					return c.dyn.Resource(gvr(kd)).Namespace(ns).List(ctx, opts)
				}
				return c.dyn.Resource(gvr(kd)).List(ctx, opts)
			})
			if err != nil {
				where := ""
				if ns != "" {
					where = fmt.Sprintf(" in namespace %q", ns)
				}
				return fmt.Errorf("listing %ss of set %q%s: %w", kd.Kind, set, where, c.explain(err))
			}
			mu.Lock()
			for j := range list.Items {
				o := &list.Items[j]
				o.SetAPIVersion(kd.APIVersion())
				o.SetKind(kd.Kind)
				live[state.ObjectKey(o)] = o
			}
			mu.Unlock()
			if opts.Continue = list.GetContinue(); opts.Continue == "" {
				return nil
			}
		}
	})
	if err != nil {
		return nil, err
	}
	var missing []state.Key
	for _, k := range declared {
		if _, ok := live[k]; !ok {
			missing = append(missing, k)
		}
	}
	err = forEach(ctx, len(missing), func(ctx context.Context, i int) error {
		o, found, err := c.Get(ctx, missing[i])
		if err != nil || !found {
			return err
		}
		mu.Lock()
		live[missing[i]] = o
		mu.Unlock()
		return nil
	})
	return live, err
}

// forEach runs fn for 0..n-1 with at most `concurrency` in flight and
// returns the first error.
func forEach(ctx context.Context, n int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, concurrency)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				errs <- err
				cancel()
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	return <-errs
}
