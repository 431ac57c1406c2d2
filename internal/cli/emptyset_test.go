package cli

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/inventory"
	"github.com/prefect-apply/prefect-apply/internal/kube"
)

const twoObjects = `set: team
kubernetes:
  namespace: prefect
  resources:
    - apiVersion: v1
      kind: Namespace
      metadata:
        name: prefect
    - apiVersion: v1
      kind: ServiceAccount
      metadata:
        name: worker
pools:
  - name: cpu
    type: process
`

// A file that keeps its kubernetes section but declares nothing there any
// more: --prune reads the cluster and deletes what the set owns; without a
// kubeconfig it says the cluster was not pruned.
func TestPruneOfAnEmptiedKubernetesSection(t *testing.T) {
	w := newMemWorld(t)
	f := w.write("pools.yaml", twoObjects)
	w.mustRun(0, "sync", "-f", f, "--yes")
	if len(w.kube.objects) != 2 {
		t.Fatalf("after the first sync the cluster holds %d objects", len(w.kube.objects))
	}
	// A foreign object stays whatever happens.
	foreign := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "theirs", "namespace": "prefect"}}}
	w.kube.objects[keyOf(foreign)] = foreign

	emptied := w.write("emptied.yaml", "set: team\nkubernetes:\n  namespace: prefect\npools:\n  - name: cpu\n    type: process\n")
	out, _ := w.mustRun(0, "diff", "-f", emptied)
	if strings.Contains(out, "Namespace") {
		t.Errorf("without --prune the cluster is read:\n%s", out)
	}

	pruneWithoutKubeconfig(t, w, emptied)
	if len(w.kube.objects) != 3 {
		t.Errorf("without a kubeconfig %d objects remain, want 3", len(w.kube.objects))
	}

	pruneLeavesOnly(t, w, emptied, foreign)
}

// A file that drops its kubernetes section altogether: the set's inventory
// remembers that it owned objects in the cluster, so a prune reads the
// cluster and deletes them; once they are gone the mark is cleared and the
// cluster is no longer read. An inventory without the mark (written before
// it existed) gets it from the next sync that finds the set's objects.
func TestPruneWithoutAKubernetesSection(t *testing.T) {
	w := newMemWorld(t)
	f := w.write("pools.yaml", twoObjects)
	w.mustRun(0, "sync", "-f", f, "--yes")
	if !w.inventoryMark("team") {
		t.Fatal("a sync that created Kubernetes objects did not mark the inventory")
	}
	// An older inventory: the mark is gone, and a sync with nothing to do
	// sets it again because the cluster holds the set's objects.
	w.setInventoryMark("team", false)
	w.mustRun(0, "sync", "-f", f, "--yes")
	if !w.inventoryMark("team") {
		t.Fatal("a sync that found the set's objects in the cluster did not mark the inventory")
	}
	foreign := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "theirs", "namespace": "prefect"}}}
	w.kube.objects[keyOf(foreign)] = foreign

	dropped := w.write("dropped.yaml", "set: team\npools:\n  - name: cpu\n    type: process\n")
	pruneWithoutKubeconfig(t, w, dropped)
	if len(w.kube.objects) != 3 || !w.inventoryMark("team") {
		t.Errorf("without a kubeconfig: %d objects remain (want 3), mark %v (want kept)", len(w.kube.objects), w.inventoryMark("team"))
	}

	out, _ := w.mustRun(0, "diff", "-f", dropped)
	if strings.Contains(out, "Namespace") {
		t.Errorf("without --prune the cluster is read:\n%s", out)
	}
	pruneLeavesOnly(t, w, dropped, foreign)
	if w.inventoryMark("team") {
		t.Error("the mark outlived the set's last Kubernetes object")
	}
	// The cluster is not read any more.
	unreachable := w.env()
	unreachable.NewKube = func(kube.Options) (KubeClient, error) {
		t.Error("the cluster was read after the set's last object was pruned")
		return nil, fmt.Errorf("unreachable")
	}
	if code, out, errOut := runEnv(unreachable, "diff", "-f", dropped, "--prune"); code != 0 {
		t.Errorf("diff --prune after the prune: exit %d\n%s\n%s", code, out, errOut)
	}
}

// inventoryMark reads the Kubernetes mark of a set's inventory.
func (w *memWorld) inventoryMark(set string) bool {
	w.t.Helper()
	inv, err := inventory.Load(context.Background(), w.prefect, set)
	if err != nil {
		w.t.Fatal(err)
	}
	return inv.Kubernetes
}

// setInventoryMark rewrites the mark as an older version would have left it.
func (w *memWorld) setInventoryMark(set string, mark bool) {
	w.t.Helper()
	inv, err := inventory.Load(context.Background(), w.prefect, set)
	if err != nil {
		w.t.Fatal(err)
	}
	inv.Kubernetes = mark
	if err := inv.Save(context.Background(), w.prefect); err != nil {
		w.t.Fatal(err)
	}
}

// Durations that cannot bound anything are refused before anything is read.
func TestTimeoutFlagsMustBePositive(t *testing.T) {
	w := newMemWorld(t)
	f := w.write("pools.yaml", twoObjects)
	for _, args := range [][]string{
		{"diff", "-f", f, "--kube-request-timeout", "0s"},
		{"sync", "-f", f, "--yes", "--kube-request-timeout", "-1s"},
		{"sync", "-f", f, "--yes", "--replace-timeout", "0"},
	} {
		code, _, errOut := w.run(args...)
		if code != 1 || !strings.Contains(errOut, "give a positive duration") {
			t.Errorf("%v: exit %d\n%s", args, code, errOut)
		}
	}
	if len(w.kube.objects) != 0 || w.prefect.reads != 0 {
		t.Errorf("a refused run read or wrote: %d objects, %d reads", len(w.kube.objects), w.prefect.reads)
	}
}

// pruneWithoutKubeconfig runs sync --prune of file with no kubeconfig to
// be found: it succeeds and warns that the cluster was not pruned.
func pruneWithoutKubeconfig(t *testing.T, w *memWorld, file string) {
	t.Helper()
	noConfig := w.env()
	noConfig.NewKube = func(kube.Options) (KubeClient, error) {
		return nil, fmt.Errorf("loading the Kubernetes configuration: %w", kube.ErrNoConfig)
	}
	code, out, errOut := runEnv(noConfig, "sync", "-f", file, "--prune", "--yes")
	if code != 0 || !strings.Contains(errOut, `Warning: no kubeconfig, so the cluster was not read: Kubernetes objects set "team" may own are not pruned`) {
		t.Errorf("without a kubeconfig: exit %d\n%s\n%s", code, out, errOut)
	}
}

// pruneLeavesOnly shows the set's two objects deleted by diff --prune of
// file, and checks that sync --prune leaves only the foreign object.
func pruneLeavesOnly(t *testing.T, w *memWorld, file string, foreign *unstructured.Unstructured) {
	t.Helper()
	out, _ := w.mustRun(2, "diff", "-f", file, "--prune")
	if !strings.Contains(out, `- Namespace "prefect" will be deleted`) || !strings.Contains(out, `- ServiceAccount "prefect/worker" will be deleted`) {
		t.Errorf("diff --prune:\n%s", out)
	}
	w.mustRun(0, "sync", "-f", file, "--prune", "--yes")
	if _, ok := w.kube.objects[keyOf(foreign)]; !ok || len(w.kube.objects) != 1 {
		t.Errorf("after the prune the cluster holds %v, want only the foreign ConfigMap", w.kube.objects)
	}
}

// Declared objects that exist but belong to nobody in the set are left
// alone without --adopt, and do not mark the inventory; adopting them does.
func TestUnmanagedObjectsDoNotMarkTheInventory(t *testing.T) {
	w := newMemWorld(t)
	for _, o := range []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "prefect"}}},
		{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "worker", "namespace": "prefect"}}},
	} {
		w.kube.objects[keyOf(o)] = o
	}
	f := w.write("pools.yaml", strings.Replace(twoObjects, "pools:\n  - name: cpu\n    type: process\n", "pools: []\n", 1))
	w.mustRun(0, "sync", "-f", f, "--yes")
	if w.inventoryMark("team") {
		t.Error("objects left alone as unmanaged marked the inventory")
	}
	w.mustRun(0, "sync", "-f", f, "--yes", "--adopt")
	if !w.inventoryMark("team") {
		t.Error("adopting the objects did not mark the inventory")
	}
}

// The set's objects are looked for in the namespaces its inventory records
// and its file uses, not across the cluster: an object in a namespace that
// left the file is still found and pruned, and the namespace is forgotten
// once the set has nothing left there. An inventory an earlier version
// wrote gets a search of the whole cluster.
func TestObjectsAreListedInTheSetsNamespaces(t *testing.T) {
	w := newMemWorld(t)
	withBatch := twoObjects + `    - apiVersion: v1
      kind: Namespace
      metadata:
        name: batch
    - apiVersion: v1
      kind: ServiceAccount
      metadata:
        name: helper
        namespace: batch
`
	withBatch = strings.Replace(withBatch, "pools:\n  - name: cpu\n    type: process\n", "", 1) + "pools:\n  - name: cpu\n    type: process\n"
	f := w.write("pools.yaml", withBatch)
	w.mustRun(0, "sync", "-f", f, "--yes")
	inv, err := inventory.Load(context.Background(), w.prefect, "team")
	if err != nil || !reflect.DeepEqual(inv.Namespaces, []string{"batch", "prefect"}) {
		t.Fatalf("inventory namespaces %v (err %v)", inv.Namespaces, err)
	}
	lastRead := func() []string { return w.kube.namespaces[len(w.kube.namespaces)-1] }

	// batch leaves the file: still read, its object pruned, then forgotten.
	g := w.write("pools.yaml", twoObjects)
	out, _ := w.mustRun(2, "diff", "-f", g, "--prune")
	if got := lastRead(); !reflect.DeepEqual(got, []string{"batch", "prefect"}) {
		t.Errorf("diff read namespaces %v, want batch and prefect", got)
	}
	if !strings.Contains(out, `- ServiceAccount "batch/helper" will be deleted`) {
		t.Errorf("diff --prune does not delete the object in the namespace that left the file:\n%s", out)
	}
	w.mustRun(0, "sync", "-f", g, "--prune", "--yes")
	w.mustRun(0, "diff", "-f", g, "--prune")
	if got := lastRead(); !reflect.DeepEqual(got, []string{"prefect"}) {
		t.Errorf("after the prune diff read namespaces %v, want only prefect", got)
	}

	// Written by an earlier version: the whole cluster.
	for name, v := range w.prefect.vars {
		if strings.HasPrefix(name, inventory.Prefix("team")) {
			v.Value = map[string]any{"version": 1, "set": "team", "pools": []any{"cpu"}}
			w.prefect.vars[name] = v
		}
	}
	w.mustRun(0, "diff", "-f", g)
	if got := lastRead(); got != nil {
		t.Errorf("with an inventory of an earlier version diff read namespaces %v, want the whole cluster", got)
	}
}
