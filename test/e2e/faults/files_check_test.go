package faults

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
)

// TestFilesValidateAndDiffer checks the generated files offline: both
// revisions validate, and revision 2 changes every field the end-to-end
// checks compare, so an object left half updated cannot pass for updated.
func TestFilesValidateAndDiffer(t *testing.T) {
	const pools = 24
	h := clitest.New(t, map[string]string{secretEnv: "x"})
	var revs [2]*declared
	for i, rev := range []int{1, 2} {
		s := poolsFile("f-check-1", pools, rev)
		path := filepath.Join(h.Dir, "pools.yaml")
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		h.MustRun(0, "validate", "-f", path)
		d, err := parseDeclared(s)
		if err != nil {
			t.Fatal(err)
		}
		revs[i] = d
	}
	a, b := revs[0], revs[1]
	if len(a.Pools) != pools || len(b.Pools) != pools {
		t.Fatalf("%d and %d pools, want %d", len(a.Pools), len(b.Pools), pools)
	}
	for i := range a.Pools {
		p, q := a.Pools[i], b.Pools[i]
		if p.Name != q.Name {
			t.Fatalf("pool %d renamed", i)
		}
		if p.Description == q.Description || p.JobTemplate.Image == q.JobTemplate.Image ||
			p.JobTemplate.FinishedJobTTL == q.JobTemplate.FinishedJobTTL ||
			envValue(p.JobTemplate.Env, "LOG_LEVEL") == envValue(q.JobTemplate.Env, "LOG_LEVEL") ||
			reflect.DeepEqual(p.ConcurrencyLimit, q.ConcurrencyLimit) && p.ConcurrencyLimit != nil {
			t.Errorf("pool %s: revision 2 leaves a field as it was", p.Name)
		}
		if len(p.Queues) != 3 || len(q.Queues) != 3 {
			t.Fatalf("pool %s: %d and %d queues", p.Name, len(p.Queues), len(q.Queues))
		}
		for j := 1; j < 3; j++ {
			if p.Queues[j].Description == q.Queues[j].Description {
				t.Errorf("queue %s/%s: description unchanged", p.Name, p.Queues[j].Name)
			}
		}
	}
	changedRes := 0
	for i := range a.Kubernetes.Resources {
		if !reflect.DeepEqual(a.Kubernetes.Resources[i], b.Kubernetes.Resources[i]) {
			changedRes++
		}
	}
	if changedRes != 3 { // ClusterRole, Role, RoleBinding
		t.Errorf("revision 2 changes %d Kubernetes resources, want 3", changedRes)
	}
}
