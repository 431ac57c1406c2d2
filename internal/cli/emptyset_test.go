package cli

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

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

	noConfig := w.env()
	noConfig.NewKube = func(kube.Options) (KubeClient, error) {
		return nil, fmt.Errorf("loading the Kubernetes configuration: %w", kube.ErrNoConfig)
	}
	code, out, errOut := runEnv(noConfig, "sync", "-f", emptied, "--prune", "--yes")
	if code != 0 || !strings.Contains(errOut, `Warning: no kubeconfig, so the cluster was not read: Kubernetes objects set "team" may own are not pruned`) {
		t.Errorf("without a kubeconfig: exit %d\n%s\n%s", code, out, errOut)
	}
	if len(w.kube.objects) != 3 {
		t.Errorf("without a kubeconfig %d objects remain, want 3", len(w.kube.objects))
	}

	out, _ = w.mustRun(2, "diff", "-f", emptied, "--prune")
	if !strings.Contains(out, `- Namespace "prefect" will be deleted`) || !strings.Contains(out, `- ServiceAccount "prefect/worker" will be deleted`) {
		t.Errorf("diff --prune:\n%s", out)
	}
	w.mustRun(0, "sync", "-f", emptied, "--prune", "--yes")
	if _, ok := w.kube.objects[keyOf(foreign)]; !ok || len(w.kube.objects) != 1 {
		t.Errorf("after the prune the cluster holds %v, want only the foreign ConfigMap", w.kube.objects)
	}
}
