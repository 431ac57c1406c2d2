package reconcile_test

import (
	"context"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/inventory"
	"github.com/prefect-apply/prefect-apply/internal/kube"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/reconcile"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// The fuzz world is the Prefect server and the cluster reconcile talks to:
// the run's clients are the world itself.

var (
	_ reconcile.PrefectClient = (*fuzzWorld)(nil)
	_ reconcile.KubeClient    = (*fuzzWorld)(nil)
)

func (w *fuzzWorld) connect() reconcile.Connect {
	return reconcile.Connect{
		Prefect: func(prefect.Connection) (reconcile.PrefectClient, error) { return w, nil },
		Kube:    func(kube.Options) (reconcile.KubeClient, error) { return w, nil },
	}
}

func (w *fuzzWorld) ReadState(context.Context) (*state.State, error) { return w.readState(), nil }

func (w *fuzzWorld) Stats() map[string]int { return nil }

// ListVariables, SetVariable and DeleteVariable hold the inventories as
// the server does: the real inventory code writes and reads them.
func (w *fuzzWorld) ListVariables(_ context.Context, prefix string) ([]prefect.Variable, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []prefect.Variable
	for name, v := range w.vars {
		if strings.HasPrefix(name, prefix) {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b prefect.Variable) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (w *fuzzWorld) SetVariable(_ context.Context, name string, value any, tags []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.vars[name] = prefect.Variable{Name: name, Value: runtimeCopy(value), Tags: tags, Updated: w.tick()}
	return nil
}

func (w *fuzzWorld) DeleteVariable(_ context.Context, name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.vars, name)
	return nil
}

// ReadLive is kube.Client.ReadLive: the set's labelled objects, in the
// given namespaces when not nil, and the declared ones that exist.
func (w *fuzzWorld) ReadLive(_ context.Context, set string, declared []state.Key, namespaces []string) (map[state.Key]*unstructured.Unstructured, error) {
	objs := w.readKube(set, nil)
	out := map[state.Key]*unstructured.Unstructured{}
	for k, o := range objs {
		if k.Namespace == "" || namespaces == nil || slices.Contains(namespaces, k.Namespace) {
			out[k] = o
		}
	}
	want := map[state.Key]*unstructured.Unstructured{}
	for _, k := range declared {
		want[k] = nil
	}
	for k, o := range w.readKube("\x00none", want) {
		out[k] = o
	}
	return out, nil
}

// Predict is kube.Client.Predict: the server-side apply dry run of the
// existing objects; new ones are not judged.
func (w *fuzzWorld) Predict(_ context.Context, existing, _ []*unstructured.Unstructured, data map[state.Key]map[string][]byte) (*kube.DryRun, error) {
	return &kube.DryRun{Predicted: w.predict(existing, data)}, nil
}

func (w *fuzzWorld) Get(_ context.Context, key state.Key) (*unstructured.Unstructured, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	o, ok := w.objects[key]
	if !ok {
		return nil, false, nil
	}
	return &unstructured.Unstructured{Object: runtimeCopy(o.obj).(map[string]any)}, true, nil
}

func ptr[T any](v T) *T { return &v }

func pick[T any](r *rand.Rand, options ...T) T { return options[r.Intn(len(options))] }

// defaultQueueDescription is what the server gives the queue it creates
// with a pool.
const defaultQueueDescription = "The work pool's default queue."

// externalSecret is what the generated files list under
// kubernetes.external: made by hand, owned by no set, never meddled with.
var externalSecret = state.Key{System: state.Kubernetes, Kind: "Secret", Namespace: "prefect", Name: "registry-creds"}

// withExternal puts the external Secret in the cluster.
func (w *fuzzWorld) withExternal() *fuzzWorld {
	obj := map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata": map[string]any{"name": externalSecret.Name, "namespace": externalSecret.Namespace},
		"data":     map[string]any{"token": "aGFuZC1tYWRl"}}
	o := ssa(nil, obj)
	o.ours = map[string]bool{} // another manager's fields
	w.stamp(o, nil)
	w.objects[externalSecret] = o
	return w
}

// sentBody is what the Prefect client sends for a change's update.
func sentBody(c plan.Change) map[string]any {
	switch {
	case c.Updates == 0:
		return nil
	case c.Key.Kind == state.KindWorkPool:
		return prefect.PoolFields(c.Pool, c.Updates)
	default:
		return prefect.QueueFields(c.Queue, c.Updates)
	}
}

// ReadDependents: no deployment runs in the fuzz world.
func (w *fuzzWorld) ReadDependents(context.Context, []string) (*state.Dependents, error) {
	return &state.Dependents{}, nil
}

// Overloads: the fuzz world is never overloaded.
func (w *fuzzWorld) Overloads() int64 { return 0 }

// otherSet is the set of another team on the same server.
const otherSet = "other"

// claimForOtherSet records a live pool (with its default queue) in another
// set's inventory, as that team's export --set and sync --adopt would:
// the fuzzed set then takes it back with --adopt, lets go of it under
// --prune, or leaves it as theirs.
func (w *fuzzWorld) claimForOtherSet(t *testing.T, r *rand.Rand) {
	t.Helper()
	pools := slices.Sorted(maps.Keys(w.readState().Pools))
	if len(pools) == 0 {
		return
	}
	name := pools[r.Intn(len(pools))]
	ctx := context.Background()
	inv, err := inventory.Load(ctx, w, otherSet)
	if err != nil {
		t.Fatal(err)
	}
	inv.Add(state.PoolKey(name), state.QueueKey(name, plan.DefaultQueue))
	if err := inv.Save(ctx, w); err != nil {
		t.Fatal(err)
	}
}
