package robust

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
)

// conflictMessage is what a sync says when it lost a race for a name and
// the object that took it differs from the file.
const conflictMessage = "created by someone else after the plan was made"

// checkRacer accepts a sync that ran next to another: exit 0, or exit 1
// naming a conflict and nothing else.
func checkRacer(t *testing.T, who string, code int, stderr string) {
	t.Helper()
	switch code {
	case 0:
	case 1:
		for _, l := range strings.Split(stderr, "\n") {
			if strings.Contains(l, " failed: ") && !strings.Contains(l, conflictMessage) {
				t.Errorf("%s: a failure that is not a conflict: %s", who, l)
			}
		}
		if !strings.Contains(stderr, conflictMessage) {
			t.Errorf("%s: exit 1 without naming a conflict:\n%s", who, tail(stderr, 30))
		}
	default:
		t.Errorf("%s: exit %d:\n%s", who, code, tail(stderr, 30))
	}
}

// Two syncs of the same file started at the same time both converge: a
// create that finds the name taken by the other run counts as applied when
// the object matches the file. Afterwards diff exits 0, the inventory
// lists exactly what the file declares (both runs wrote it), and a prune of
// a reduced file deletes exactly what left it.
func TestTwoSyncsOfOneFile(t *testing.T) {
	rounds := 1
	if soak() {
		rounds = 6
	}
	exits := map[int]int{}
	failedRounds := 0
	for round := 0; round < rounds; round++ {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					failedRounds++
				}
			}()
			e := newEnv(t)
			name := fmt.Sprintf("twins-%d", round)
			pools := 8
			if soak() {
				pools = 16
			}
			m := bigModel("robust-"+name, "rb-"+name+"-", pools)
			e.vars[m.secretEnv] = "token-" + name
			f := e.write("pools.yaml", m.yaml())

			a := e.start("sync", "-f", f, "--yes", "-o", "json")
			b := e.start("sync", "-f", f, "--yes", "-o", "json")
			codeA, _, errA := a.wait()
			codeB, _, errB := b.wait()
			exits[codeA]++
			exits[codeB]++
			checkRacer(t, "first sync", codeA, errA)
			checkRacer(t, "second sync", codeB, errB)
			for _, s := range []string{errA, errB} {
				if n := strings.Count(s, " failed: "); n > 0 {
					t.Logf("a sync reported %d failures:\n%s", n, tail(s, 12))
				}
			}

			e.must(0, "diff", "-f", f)
			e.requireAll(m)
			if inv := e.api().inventory(m.set); !reflect.DeepEqual(inv, m.prefectKeys()) {
				t.Errorf("inventory after the race:\n got %v\nwant %v", inv, m.prefectKeys())
			}

			// Prune a reduced file: exactly what left it is deleted.
			prefix := "rb-" + name + "-"
			smaller := m.without(prefix+"pool-1", prefix+"pool-2", prefix+"pool-3/low", prefix+"cm-1", prefix+"cm-2", prefix+"sa-1")
			g := e.write("smaller.yaml", smaller.yaml())
			stdout, _ := e.must(0, "sync", "-f", g, "--yes", "--prune", "-o", "json")
			want := []state.Key{
				state.PoolKey(prefix + "pool-1"), state.PoolKey(prefix + "pool-2"), state.QueueKey(prefix+"pool-3", "low"),
				kubeKey("ConfigMap", m.namespace, prefix+"cm-1"), kubeKey("ConfigMap", m.namespace, prefix+"cm-2"),
				kubeKey("ServiceAccount", m.namespace, prefix+"sa-1"),
			}
			state.SortKeys(want)
			if got := keysWith(clitest.ParsePlan(t, stdout), "delete"); !reflect.DeepEqual(got, want) {
				t.Errorf("prune deleted\n %v\nwant\n %v", got, want)
			}
			for _, k := range want {
				if exists(e, k) {
					t.Errorf("%s survived the prune", k)
				}
			}
			e.requireAll(smaller)
			if inv := e.api().inventory(m.set); !reflect.DeepEqual(inv, smaller.prefectKeys()) {
				t.Errorf("inventory after the prune:\n got %v\nwant %v", inv, smaller.prefectKeys())
			}
			e.must(0, "diff", "-f", g, "--prune")
		})
	}
	t.Logf("exit codes of the racing syncs: %v", exits)
	figure("racing syncs of one file", "%d rounds, exit codes %v, converged (diff 0, inventory exact, prune exact) in %d", rounds, exits, rounds-failedRounds)
}

// exists reports whether a Prefect or Kubernetes object exists. A
// Kubernetes object being deleted counts as gone: the test kube-apiserver
// runs no controllers, so finalizers (a Namespace's, a PVC's) are never
// removed.
func exists(e *env, k state.Key) bool {
	e.t.Helper()
	switch {
	case k.Kind == state.KindWorkPool:
		_, ok := e.api().pool(k.Name)
		return ok
	case k.Kind == state.KindWorkQueue:
		_, ok := e.api().queue(k.Namespace, k.Name)
		return ok
	}
	o, ok := e.object(k)
	return ok && o.GetDeletionTimestamp() == nil
}

// Two files with two sets, synced at the same time into one namespace
// managed elsewhere: both apply, and a prune of either (the same file, then
// a reduced one) deletes only what its own set owns.
func TestTwoSetsAtOnce(t *testing.T) {
	e := newEnv(t)
	shared := "rb-two-sets"
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": shared}}}
	e.createObject(ns)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = e.resource("Namespace", "").Delete(ctx, shared, metav1.DeleteOptions{})
	})
	models := map[string]model{}
	files := map[string]string{}
	for _, side := range []string{"a", "b"} {
		prefix := "rb-set-" + side + "-"
		m := model{set: "robust-set-" + side, namespace: shared, external: true, secretEnv: "ROBUST_TOKEN",
			objects: bigObjects(shared, prefix, 5), pools: bigPools("robust-set-"+side, prefix, 5)}
		models[side] = m
		files[side] = e.write(side+".yaml", m.yaml())
	}
	e.vars["ROBUST_TOKEN"] = "token-two-sets"

	a := e.start("sync", "-f", files["a"], "--yes", "-o", "json")
	b := e.start("sync", "-f", files["b"], "--yes", "-o", "json")
	codeA, _, errA := a.wait()
	codeB, _, errB := b.wait()
	if codeA != 0 || codeB != 0 {
		t.Fatalf("syncs of two sets at once: exit %d and %d\n%s\n%s", codeA, codeB, tail(errA, 20), tail(errB, 20))
	}
	for _, side := range []string{"a", "b"} {
		e.requireAll(models[side])
		e.must(0, "diff", "-f", files[side], "--prune")
	}

	// Both prune at the same time, each its own unchanged file: nothing is
	// deleted.
	a = e.start("sync", "-f", files["a"], "--yes", "--prune", "-o", "json")
	b = e.start("sync", "-f", files["b"], "--yes", "--prune", "-o", "json")
	for side, p := range map[string]*proc{"a": a, "b": b} {
		code, stdout, stderr := p.wait()
		if code != 0 {
			t.Fatalf("sync --prune of set %s: exit %d\n%s", side, code, tail(stderr, 20))
		}
		if d := keysWith(clitest.ParsePlan(t, stdout), "delete"); len(d) > 0 {
			t.Errorf("sync --prune of set %s with its own file deleted %v", side, d)
		}
	}

	// A reduced file of set a, pruned while b syncs again.
	small := models["a"].without("rb-set-a-pool-0", "rb-set-a-pool-4", "rb-set-a-cm-2", "rb-set-a-sa-1")
	g := e.write("a-small.yaml", small.yaml())
	a = e.start("sync", "-f", g, "--yes", "--prune", "-o", "json")
	b = e.start("sync", "-f", files["b"], "--yes", "--prune", "-o", "json")
	code, stdout, stderr := a.wait()
	if code != 0 {
		t.Fatalf("sync --prune of the reduced file of set a: exit %d\n%s", code, tail(stderr, 20))
	}
	want := []state.Key{state.PoolKey("rb-set-a-pool-0"), state.PoolKey("rb-set-a-pool-4"),
		kubeKey("ConfigMap", shared, "rb-set-a-cm-2"), kubeKey("ServiceAccount", shared, "rb-set-a-sa-1")}
	state.SortKeys(want)
	if got := keysWith(clitest.ParsePlan(t, stdout), "delete"); !reflect.DeepEqual(got, want) {
		t.Errorf("prune of set a deleted\n %v\nwant\n %v", got, want)
	}
	if code, _, stderr := b.wait(); code != 0 {
		t.Errorf("sync --prune of set b next to it: exit %d\n%s", code, tail(stderr, 20))
	}
	e.requireAll(small)
	e.requireAll(models["b"])
	e.must(0, "diff", "-f", g, "--prune")
	e.must(0, "diff", "-f", files["b"], "--prune")
	invA, invB := e.api().inventory("robust-set-a"), e.api().inventory("robust-set-b")
	if !reflect.DeepEqual(invA, small.prefectKeys()) || !reflect.DeepEqual(invB, models["b"].prefectKeys()) {
		t.Errorf("inventories:\n a %v\n b %v", invA, invB)
	}
}
