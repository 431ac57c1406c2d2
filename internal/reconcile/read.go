package reconcile

import (
	"context"
)

// readBoth reads the Prefect state and, when the run needs it, the
// cluster, at the same time, into out.Live; it returns what the cluster
// read found (nil when it was not read).
func (in *Inputs) readBoth(ctx context.Context, out *Planned) (*kubeRead, error) {
	file, inv := out.File, out.Inventory
	namespaces := kubeNamespaces(inv, file, out.Desired)
	// A file that no longer declares any Kubernetes object but keeps its
	// kubernetes section may have emptied the set there: a prune reads
	// the cluster to find what the set still owns.
	readKube := !in.SkipKubernetes && usesKubernetes(file)
	pruneOnly := !readKube && !in.SkipKubernetes && in.Prune && file.Kubernetes != nil
	noKubeconfig := false
	var kr *kubeRead
	var err error
	if readKube || pruneOnly {
		err = concurrently(ctx,
			func(ctx context.Context) (err error) { out.Live, err = out.Client.ReadState(ctx); return err },
			func(ctx context.Context) (err error) {
				kr, err = in.readKubernetes(ctx, file, out.Desired, namespaces)
				if pruneOnly && errNoKubeconfig(err) {
					noKubeconfig, err = true, nil
				}
				return err
			})
	} else {
		out.Live, err = out.Client.ReadState(ctx)
	}
	if err != nil {
		return nil, err
	}
	// A file without a kubernetes section may belong to a set that still
	// owns objects in a cluster. Its inventory says so, and a prune then
	// reads the cluster to delete them.
	if file.Kubernetes == nil && in.Prune && !in.SkipKubernetes && inv.Kubernetes {
		kr, err = in.readKubernetes(ctx, file, out.Desired, namespaces)
		if errNoKubeconfig(err) {
			noKubeconfig, err = true, nil
		}
		if err != nil {
			return nil, err
		}
	}
	if noKubeconfig {
		in.notify("Warning: no kubeconfig, so the cluster was not read: Kubernetes objects set %q may own are not pruned (--skip-kubernetes says that is intended)", file.Set)
	}
	return kr, nil
}

// concurrently runs the first and the second read at the same time. The
// first error cancels the other read, and it is the one returned: an
// error that comes after the cancellation is its consequence.
func concurrently(ctx context.Context, first, second func(context.Context) error) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		err       error
		cancelled bool // the read ended after the other had failed
	}
	ended := func(err error) result {
		r := result{err: err, cancelled: err != nil && rctx.Err() != nil}
		if err != nil {
			cancel()
		}
		return r
	}
	done := make(chan result, 1)
	go func() { done <- ended(second(rctx)) }()
	a := ended(first(rctx))
	b := <-done
	switch {
	case a.err != nil && (!a.cancelled || b.err == nil || b.cancelled):
		return a.err
	case b.err != nil:
		return b.err
	}
	return nil
}
