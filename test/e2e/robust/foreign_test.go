package robust

import (
	"context"
	"fmt"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

// Label variants of foreign objects: none, or only part of the set's
// ownership marks, or another set's.
var foreignLabels = map[string]map[string]string{
	"hand":          nil,
	"managed-only":  {state.ManagedByLabel: state.ManagedByValue},
	"set-only":      {state.SetLabel: "robust-own"},
	"other-set":     {state.ManagedByLabel: state.ManagedByValue, state.SetLabel: "robust-other"},
	"other-manager": {state.ManagedByLabel: "Helm", state.SetLabel: "robust-own"},
}

// foreignObject builds an object of a managed kind, by hand, with labels.
func foreignObject(kind, namespace, name string, labels map[string]string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion(kind), "kind": kind}}
	o.SetName(name)
	if namespace != "" {
		o.SetNamespace(namespace)
	}
	if labels != nil {
		o.SetLabels(labels)
	}
	rules := []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"pods"}, "verbs": []any{"get"}}}
	subjects := []any{map[string]any{"kind": "ServiceAccount", "name": "someone", "namespace": "default"}}
	switch kind {
	case "Role", "ClusterRole":
		o.Object["rules"] = rules
	case "RoleBinding":
		o.Object["roleRef"] = map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}
		o.Object["subjects"] = subjects
	case "ClusterRoleBinding":
		o.Object["roleRef"] = map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}
		o.Object["subjects"] = subjects
	case "ConfigMap":
		o.Object["data"] = map[string]any{"owner": "someone else"}
	case "Secret":
		o.Object["stringData"] = map[string]any{"owner": "someone else"}
	case "PersistentVolumeClaim":
		o.Object["spec"] = map[string]any{"accessModes": []any{"ReadWriteOnce"},
			"resources": map[string]any{"requests": map[string]any{"storage": "1Gi"}}}
	case "ResourceQuota":
		o.Object["spec"] = map[string]any{"hard": map[string]any{quotaResource: "5"}}
	case "LimitRange":
		o.Object["spec"] = map[string]any{"limits": []any{map[string]any{"type": "Container", "max": map[string]any{"cpu": "4"}}}}
	}
	return o
}

// quotaResource is what the tests' ResourceQuotas limit: something no test
// creates, since this API server runs no quota controller and refuses the
// creation of what a quota without status counts.
const quotaResource = "count/cronjobs.batch"

// ownModel is the set whose prune is tested: two objects of every managed
// kind but Namespace and PVC ("keep" stays in the reduced file, "gone"
// leaves it), and three pools.
func ownModel() model {
	m := model{set: "robust-own", namespace: "rb-own-ns", secretEnv: "ROBUST_TOKEN"}
	role := "rules:\n  - {apiGroups: [\"\"], resources: [pods], verbs: [get]}\n"
	subject := "subjects:\n  - {kind: ServiceAccount, name: rb-own-serviceaccount-keep, namespace: rb-own-ns}\n"
	for _, which := range []string{"keep", "gone"} {
		n := func(kind string) string { return "rb-own-" + strings.ToLower(kind) + "-" + which }
		m.objects = append(m.objects,
			objSpec{kind: "ServiceAccount", name: n("ServiceAccount")},
			objSpec{kind: "ConfigMap", name: n("ConfigMap"), data: map[string]string{"which": which}},
			objSpec{kind: "Secret", name: n("Secret")},
			objSpec{kind: "Role", name: n("Role"), body: role},
			objSpec{kind: "RoleBinding", name: n("RoleBinding"), body: "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: " + n("Role") + "}\n" + subject},
			objSpec{kind: "ClusterRole", name: n("ClusterRole"), body: role},
			objSpec{kind: "ClusterRoleBinding", name: n("ClusterRoleBinding"), body: "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: " + n("ClusterRole") + "}\n" + subject},
			objSpec{kind: "ResourceQuota", name: n("ResourceQuota"), body: "spec:\n  hard: {" + quotaResource + ": \"10\"}\n"},
			// The server sets default and defaultRequest from max.
			objSpec{kind: "LimitRange", name: n("LimitRange"), body: "spec:\n  limits:\n    - {type: Container, max: {cpu: \"2\"}}\n"},
		)
	}
	// A PVC only in "keep": a deleted PVC stays, terminating, until the
	// controller this kube-apiserver lacks removes its finalizer.
	m.objects = append(m.objects, objSpec{kind: "PersistentVolumeClaim", name: "rb-own-persistentvolumeclaim-keep",
		body: "spec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n"})
	queues := []queueSpec{{name: "default", prio: 1, desc: "default"}, {name: "a", prio: 2, desc: "a"}, {name: "b", prio: 3, desc: "b"}}
	for _, p := range []string{"rb-own-keep", "rb-own-spare", "rb-own-gone"} {
		m.pools = append(m.pools, poolSpec{name: p, typ: "process", desc: p, limit: 2, queues: queues})
	}
	return m
}

// Prune never touches what lacks the set's ownership marks: with foreign
// objects of every managed kind next to the set's (in its namespace and in
// another, unlabelled or with only part of the marks or another set's, some
// with the set's own names), and pools and queues made through the REST API
// and with the prefect CLI (some in the set's own pools), sync --prune of a
// reduced file deletes exactly what left it, and the emptied set
// (--allow-empty; a file without a kubernetes section, so only the set's
// inventory says the cluster is to be read) deletes only the set's pools,
// keeping one that holds queues made by hand, and the set's Kubernetes
// objects; no foreign object changes and no default queue is deleted but
// with its pool.
func TestPruneLeavesForeignObjects(t *testing.T) {
	e := newEnv(t)
	a := e.api()
	m := ownModel()
	e.vars[m.secretEnv] = "token-own"
	f := e.write("pools.yaml", m.yaml())
	e.must(0, "sync", "-f", f, "--yes")

	// Foreign Kubernetes objects, and their resourceVersions.
	foreignNS := "rb-foreign-ns"
	e.createObject(foreignObject("Namespace", "", foreignNS, nil))
	var foreign []*unstructured.Unstructured
	add := func(o *unstructured.Unstructured) { foreign = append(foreign, e.createObject(o)) }
	for variant, labels := range foreignLabels {
		for _, k := range state.Kinds {
			name := "rb-foreign-" + strings.ToLower(k.Kind) + "-" + variant
			switch {
			case k.Kind == "Namespace":
				add(foreignObject(k.Kind, "", "rb-foreign-"+variant, labels))
			case k.Scope == state.ClusterScoped:
				add(foreignObject(k.Kind, "", name, labels))
			default:
				for _, ns := range []string{m.namespace, foreignNS} {
					add(foreignObject(k.Kind, ns, name, labels))
				}
			}
		}
	}
	// The set's own names, in another namespace: another set's objects.
	for _, o := range m.objects {
		if k := m.objKey(o); k.Namespace != "" {
			add(foreignObject(o.kind, foreignNS, o.name, foreignLabels["other-set"]))
		}
	}

	// Foreign pools and queues: through the REST API, and with the real
	// prefect CLI; some in the set's own pools.
	a.createPool("rb-foreign-rest", "process")
	a.createQueue("rb-foreign-rest", "rest-q")
	a.createQueue("rb-foreign-rest", "a") // one of the set's queue names
	a.createQueue("rb-own-keep", "hand-q")
	prefectCLI(t, e.prefect, "work-pool", "create", "rb-foreign-cli", "--type", "process")
	a.createQueue("rb-foreign-cli", "b")
	prefectCLI(t, e.prefect, "work-queue", "create", "cli-q", "--pool", "rb-own-keep")
	foreignQueues := map[[2]string]string{}
	for _, p := range []string{"rb-foreign-rest", "rb-foreign-cli"} {
		for name, lq := range a.queues(p) {
			foreignQueues[[2]string{p, name}] = lq.ID
		}
	}
	for _, name := range []string{"hand-q", "cli-q"} {
		lq, ok := a.queue("rb-own-keep", name)
		if !ok {
			t.Fatalf("queue %q in rb-own-keep was not created", name)
		}
		foreignQueues[[2]string{"rb-own-keep", name}] = lq.ID
	}
	t.Logf("%d foreign Kubernetes objects, %d foreign queues in 2 foreign pools and 1 of the set's", len(foreign), len(foreignQueues))
	untouched := func(stage string) {
		t.Helper()
		for _, o := range foreign {
			k := kubeKey(o.GetKind(), o.GetNamespace(), o.GetName())
			live, ok := e.object(k)
			switch {
			case !ok:
				t.Errorf("%s: foreign %s was deleted", stage, k)
			case live.GetDeletionTimestamp() != nil:
				t.Errorf("%s: foreign %s is being deleted", stage, k)
			case live.GetResourceVersion() != o.GetResourceVersion():
				t.Errorf("%s: foreign %s was changed (resourceVersion %s → %s)", stage, k, o.GetResourceVersion(), live.GetResourceVersion())
			}
		}
		for pq, id := range foreignQueues {
			if lq, ok := a.queue(pq[0], pq[1]); !ok || lq.ID != id {
				t.Errorf("%s: foreign queue %q in pool %q was deleted or recreated", stage, pq[1], pq[0])
			}
		}
	}

	// The file, unchanged, sees none of them.
	e.must(0, "diff", "-f", f, "--prune")

	// A reduced file: exactly what left it is deleted.
	var drop []string
	for _, o := range m.objects {
		if strings.HasSuffix(o.name, "-gone") {
			drop = append(drop, o.name)
		}
	}
	small := m.without(append(drop, "rb-own-gone", "rb-own-keep/b", "rb-own-keep/default")...)
	g := e.write("small.yaml", small.yaml())
	want := []state.Key{state.PoolKey("rb-own-gone"), state.QueueKey("rb-own-keep", "b")}
	for _, o := range m.objects {
		if strings.HasSuffix(o.name, "-gone") {
			want = append(want, m.objKey(o))
		}
	}
	state.SortKeys(want)
	stdout, _ := e.must(0, "sync", "-f", g, "--yes", "--prune", "-o", "json")
	if got := keysWith(clitest.ParsePlan(t, stdout), "delete"); !reflect.DeepEqual(got, want) {
		t.Errorf("sync --prune of the reduced file deleted\n %v\nwant\n %v", got, want)
	}
	for _, k := range want {
		if exists(e, k) {
			t.Errorf("%s survived the prune", k)
		}
	}
	e.requireAll(small)
	if _, ok := a.queue("rb-own-keep", "default"); !ok {
		t.Error("the default queue of rb-own-keep was deleted when it left the file")
	}
	untouched("after the reduced prune")
	e.must(0, "diff", "-f", g, "--prune")

	// The emptied set: its pools go, except the one holding queues made by
	// hand, which is kept and named (its own queue in it goes, its default
	// queue stays), and so do its Kubernetes objects,
	// though the file has no kubernetes section left. (Its Namespace is
	// among them; this API server runs no namespace controller, so the
	// foreign objects inside it stay, where a cluster would delete them as
	// the plan says.)
	empty := e.write("empty.yaml", "set: robust-own\npools: []\n")
	wantEmptied := []state.Key{state.PoolKey("rb-own-spare"), state.QueueKey("rb-own-keep", "a"), kubeKey("Namespace", "", m.namespace)}
	for _, o := range small.objects {
		wantEmptied = append(wantEmptied, m.objKey(o))
	}
	state.SortKeys(wantEmptied)
	if code, _, stderr := e.run("sync", "-f", empty, "--yes", "--prune"); code != 1 || !strings.Contains(stderr, "--allow-empty") {
		t.Errorf("emptying the set without --allow-empty: exit %d\n%s", code, stderr)
	}
	stdout, _ = e.must(0, "sync", "-f", empty, "--yes", "--prune", "--allow-empty", "-o", "json")
	doc := clitest.ParsePlan(t, stdout)
	if got := keysWith(doc, "delete"); !reflect.DeepEqual(got, wantEmptied) {
		t.Errorf("emptying the set deleted\n %v\nwant\n %v", got, wantEmptied)
	}
	for _, k := range wantEmptied {
		if k.System != state.Kubernetes {
			continue
		}
		if o, ok := e.object(k); ok && o.GetDeletionTimestamp() == nil {
			t.Errorf("%s survived emptying the set", k)
		}
	}
	kept := false
	for _, c := range doc.Changes {
		if c.Key == state.PoolKey("rb-own-keep") {
			kept = c.Action == "orphan" && strings.Contains(c.Reason, `"hand-q"`) && strings.Contains(c.Reason, `"cli-q"`)
		}
	}
	if !kept {
		t.Errorf("pool rb-own-keep, which holds queues made by hand, is not kept with a reason:\n%s", tail(stdout, 40))
	}
	if _, ok := a.pool("rb-own-spare"); ok {
		t.Error("rb-own-spare survived emptying the set")
	}
	if _, ok := a.queue("rb-own-keep", "default"); !ok {
		t.Error("the default queue of the kept pool rb-own-keep was deleted")
	}
	if _, ok := a.queue("rb-own-keep", "a"); ok {
		t.Error("the set's queue a in the kept pool rb-own-keep survived the prune")
	}
	untouched("after emptying the set")
	figure("foreign objects", "%d foreign Kubernetes objects (%d kinds, %d label variants), %d foreign queues; the set's prunes deleted %d objects, all its own, and no foreign one",
		len(foreign), len(kinds), len(foreignLabels), len(foreignQueues), len(want)+len(wantEmptied))
	out, _ := e.must(0, "diff", "-f", empty, "--prune", "--allow-empty")
	if !strings.Contains(out, `work pool "rb-own-keep" is no longer in the file`) || !strings.Contains(out, "even with --prune") {
		t.Errorf("diff after emptying does not explain the kept pool:\n%s", out)
	}
}

// prefectCLI runs the real prefect CLI against the server.
func prefectCLI(t *testing.T, p *servers.Prefect, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, servers.PrefectBin(t), args...)
	cmd.Env = p.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("prefect %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("prefect %s: done", fmt.Sprint(strings.Join(args, " ")))
}
