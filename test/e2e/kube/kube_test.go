// Package kube tests prefect-apply end to end against a real kube-apiserver
// (with etcd) and a real Prefect server, both started by hack/.
package kube

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

// canary is the auth string the Secret is made from; it must never appear
// in any output.
const canary = "admin:CANARY-kube-7f3a9c"

type env struct {
	*clitest.Harness
	t         *testing.T
	kube      *servers.Kube
	prefect   *servers.Prefect
	clientset kubernetes.Interface
}

func setup(t *testing.T) *env {
	t.Helper()
	k := servers.StartKube(t)
	p := servers.StartPrefect(t, servers.PrefectOptions{})
	cs := k.Clientset(t)
	e := &env{t: t, kube: k, prefect: p, clientset: cs, Harness: clitest.New(t, map[string]string{
		"PREFECT_API_URL":         p.URL,
		"PREFECT_API_AUTH_STRING": canary,
		"KUBECONFIG":              k.Kubeconfig,
	})}
	e.NeverPrints(canary, base64.StdEncoding.EncodeToString([]byte(canary)))
	return e
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	e.t.Cleanup(cancel)
	return ctx
}

func TestSyncExampleCreatesEverythingAndConverges(t *testing.T) {
	e := setup(t)
	f := e.Example("pools.yaml")

	out := e.MustRun(2, "diff", "-f", f)
	for _, want := range []string{`Namespace "prefect" will be created`, `ClusterRoleBinding "prefect-worker-binding" will be created`, `data.auth-string: (sensitive value)`, `work pool "gpu-tasks" will be created`} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	out = e.MustRun(0, "sync", "-f", f, "--yes")
	// Kubernetes objects come before the pools that use them.
	if i, j := strings.Index(out, `ServiceAccount "prefect/prefect-worker": created`), strings.Index(out, `work pool "gbif-automations": created`); i < 0 || j < 0 || i > j {
		t.Errorf("service account not created before the pool:\n%s", out)
	}
	e.MustRun(0, "diff", "-f", f)

	ctx := e.ctx()
	sec, err := e.clientset.CoreV1().Secrets("prefect").Get(ctx, "prefect-basic-auth", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["auth-string"]) != canary {
		t.Errorf("secret value not applied")
	}
	if sec.Labels["app.kubernetes.io/managed-by"] != "prefect-apply" || sec.Labels["prefect-apply.io/set"] != "gbif" {
		t.Errorf("ownership labels missing: %v", sec.Labels)
	}
	for _, get := range []func() error{
		func() error {
			_, err := e.clientset.CoreV1().Namespaces().Get(ctx, "prefect", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := e.clientset.CoreV1().ServiceAccounts("prefect").Get(ctx, "prefect-worker", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := e.clientset.RbacV1().ClusterRoles().Get(ctx, "prefect-worker-role", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := e.clientset.RbacV1().ClusterRoleBindings().Get(ctx, "prefect-worker-binding", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := e.clientset.CoreV1().PersistentVolumeClaims("prefect").Get(ctx, "shared-data", metav1.GetOptions{})
			return err
		},
	} {
		if err := get(); err != nil {
			t.Error(err)
		}
	}

	// The service account can do what the role grants, and no more.
	for _, tc := range []struct {
		group, resource, verb, ns string
		allowed                   bool
	}{
		{"batch", "jobs", "create", "prefect", true},
		{"", "pods", "list", "prefect", true},
		{"", "pods/log", "get", "other", true},
		{"", "secrets", "get", "prefect", false},
		{"batch", "jobs", "create", "", true},
		{"rbac.authorization.k8s.io", "clusterroles", "create", "", false},
		{"", "pods", "update", "prefect", false},
	} {
		sar := &authv1.SubjectAccessReview{Spec: authv1.SubjectAccessReviewSpec{
			User:               "system:serviceaccount:prefect:prefect-worker",
			Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:prefect"},
			ResourceAttributes: &authv1.ResourceAttributes{Group: tc.group, Resource: tc.resource, Verb: tc.verb, Namespace: tc.ns},
		}}
		got, err := e.clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Allowed != tc.allowed {
			t.Errorf("prefect-worker %s %s/%s in %q: allowed=%v, want %v", tc.verb, tc.group, tc.resource, tc.ns, got.Status.Allowed, tc.allowed)
		}
	}

	// A second sync changes nothing.
	out = e.MustRun(0, "sync", "-f", f, "--yes")
	if !strings.Contains(out, "No changes") {
		t.Errorf("second sync was not a no-op:\n%s", out)
	}

	// On the same servers: a ResourceQuota and a LimitRange in the namespace.
	quotaAndLimitRangeFollowTheFile(e)
}

// quotaAndLimitRangeFollowTheFile adds a ResourceQuota and a LimitRange to
// the synced example: sync creates them with the ownership labels, and
// diff then sees nothing; a changed hard limit is an update that sync
// applies; once they leave the file, sync --prune deletes them. (This
// API server runs no quota controller, so the quota names no resource
// that the example's objects would count.)
func quotaAndLimitRangeFollowTheFile(e *env) {
	t := e.t
	t.Helper()
	objects := func(pods string) string {
		return `    - apiVersion: v1
      kind: ResourceQuota
      metadata:
        name: compute
      spec:
        hard:
          requests.cpu: "8"
          limits.memory: 32Gi
          pods: "` + pods + `"
    - apiVersion: v1
      kind: LimitRange
      metadata:
        name: job-defaults
      spec:
        limits:
          - type: Container
            default: {cpu: "1", memory: 2Gi}
            defaultRequest: {cpu: 500m, memory: 1Gi}
  secrets:
`
	}
	f := e.Example("quota.yaml", "  secrets:\n", objects("20"))
	out := e.MustRun(2, "diff", "-f", f)
	for _, want := range []string{`+ ResourceQuota "prefect/compute" will be created`, `+ LimitRange "prefect/job-defaults" will be created`, "2 to create, 0 to update"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	out = e.MustRun(0, "sync", "-f", f, "--yes")
	if !strings.Contains(out, `ResourceQuota "prefect/compute": created`) || !strings.Contains(out, `LimitRange "prefect/job-defaults": created`) {
		t.Errorf("sync did not create the quota and the limit range:\n%s", out)
	}
	ctx := e.ctx()
	quotas := e.clientset.CoreV1().ResourceQuotas("prefect")
	q, err := quotas.Get(ctx, "compute", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lr, err := e.clientset.CoreV1().LimitRanges("prefect").Get(ctx, "job-defaults", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, labels := range []map[string]string{q.Labels, lr.Labels} {
		if labels["app.kubernetes.io/managed-by"] != "prefect-apply" || labels["prefect-apply.io/set"] != "gbif" {
			t.Errorf("ownership labels missing: %v", labels)
		}
	}
	if got := q.Spec.Hard.Pods().String(); got != "20" {
		t.Errorf("quota pods = %s, want 20", got)
	}
	e.MustRun(0, "diff", "-f", f)

	// A changed hard limit is an update.
	f = e.Example("quota.yaml", "  secrets:\n", objects("30"))
	out = e.MustRun(2, "diff", "-f", f)
	if !strings.Contains(out, `~ ResourceQuota "prefect/compute" will be updated`) || !strings.Contains(out, `spec.hard.pods: "20" → "30"`) ||
		!strings.Contains(out, "0 to create, 1 to update") {
		t.Errorf("diff does not show the new hard limit:\n%s", out)
	}
	out = e.MustRun(0, "sync", "-f", f, "--yes")
	if !strings.Contains(out, `ResourceQuota "prefect/compute": updated`) {
		t.Errorf("sync did not update the quota:\n%s", out)
	}
	if q, err := quotas.Get(ctx, "compute", metav1.GetOptions{}); err != nil || q.Spec.Hard.Pods().String() != "30" {
		t.Errorf("quota after the update: %v, pods %v", err, q.Spec.Hard.Pods())
	}
	e.MustRun(0, "diff", "-f", f)

	// Out of the file: kept without --prune, deleted with it.
	g := e.Example("quota.yaml")
	out = e.MustRun(0, "diff", "-f", g)
	if !strings.Contains(out, `ResourceQuota "prefect/compute" is no longer in the file`) {
		t.Errorf("diff does not report the quota that left the file:\n%s", out)
	}
	out = e.MustRun(2, "diff", "-f", g, "--prune")
	for _, want := range []string{`ResourceQuota "prefect/compute" will be deleted`, `LimitRange "prefect/job-defaults" will be deleted`} {
		if !strings.Contains(out, want) {
			t.Errorf("diff --prune lacks %q:\n%s", want, out)
		}
	}
	e.MustRun(0, "sync", "-f", g, "--yes", "--prune")
	if _, err := quotas.Get(ctx, "compute", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the quota after sync --prune: %v, want not found", err)
	}
	if _, err := e.clientset.CoreV1().LimitRanges("prefect").Get(ctx, "job-defaults", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the limit range after sync --prune: %v, want not found", err)
	}
	e.MustRun(0, "diff", "-f", g, "--prune")
}

func TestSecretChangeShowsKeyNeverValue(t *testing.T) {
	e := setup(t)
	f := e.Example("pools.yaml")
	e.MustRun(0, "sync", "-f", f, "--yes")

	e.Vars["PREFECT_API_AUTH_STRING"] = canary + "-rotated"
	for _, format := range []string{"text", "json", "markdown"} {
		out := e.MustRun(2, "diff", "-f", f, "-o", format)
		if !strings.Contains(out, "auth-string") {
			t.Errorf("%s diff does not name the changed key:\n%s", format, out)
		}
		if strings.Contains(out, "rotated") || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte(canary+"-rotated"))) {
			t.Errorf("%s diff shows the secret value", format)
		}
	}
	out := e.MustRun(2, "diff", "-f", f, "-o", "json")
	doc := clitest.ParsePlan(t, out)
	var changed []string
	for _, c := range doc.Changes {
		if c.Action != "no-op" {
			changed = append(changed, c.Key.Kind+"/"+c.Key.Name)
			for _, fc := range c.Fields {
				if !fc.Sensitive {
					t.Errorf("non-sensitive field %s changed in %s/%s", fc.Path, c.Key.Kind, c.Key.Name)
				}
			}
		}
	}
	if len(changed) != 1 || changed[0] != "Secret/prefect-basic-auth" {
		t.Errorf("changes = %v, want only the Secret", changed)
	}
	e.MustRun(0, "sync", "-f", f, "--yes")
	e.MustRun(0, "diff", "-f", f)
}

func TestConflictWithAnotherFieldManager(t *testing.T) {
	e := setup(t)
	f := e.Example("pools.yaml")
	e.MustRun(0, "sync", "-f", f, "--yes")

	// Someone edits a rule by hand, with another field manager.
	ctx := e.ctx()
	patch := []byte(`[{"op":"replace","path":"/rules/2/verbs","value":["get","list","watch","delete"]}]`)
	if _, err := e.clientset.RbacV1().ClusterRoles().Patch(ctx, "prefect-worker-role", types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	out := e.MustRun(2, "diff", "-f", f)
	if !strings.Contains(out, `ClusterRole "prefect-worker-role" will be updated`) || !strings.Contains(out, "rules[2].verbs") {
		t.Errorf("diff does not show the hand edit:\n%s", out)
	}
	code, out, errOut := e.Run("sync", "-f", f, "--yes")
	if code != 1 || !strings.Contains(out+errOut, "kubectl-edit") || !strings.Contains(out+errOut, "--force-conflicts") {
		t.Fatalf("sync: exit %d, want 1 with the conflict named\n%s\n%s", code, out, errOut)
	}
	e.MustRun(0, "sync", "-f", f, "--yes", "--force-conflicts")
	e.MustRun(0, "diff", "-f", f)
}

// A field another manager took (kubectl edit adding a subject) is a
// conflict in the plan, on its object, with the manager and the field: diff
// exits 2 and says sync needs --force-conflicts; diff --force-conflicts
// plans the takeover; sync fails on that object naming the field, applies
// the unrelated pool change, and converges with --force-conflicts.
func TestConflictIsInThePlan(t *testing.T) {
	e := setup(t)
	e.MustRun(0, "sync", "-f", e.Example("pools.yaml"), "--yes")
	ctx := e.ctx()
	patch := []byte(`{"subjects":[{"kind":"ServiceAccount","name":"prefect-worker","namespace":"prefect"},{"kind":"User","name":"mallory","apiGroup":"rbac.authorization.k8s.io"}]}`)
	if _, err := e.clientset.RbacV1().ClusterRoleBindings().Patch(ctx, "prefect-worker-binding", types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	f := e.Example("pools.yaml", "concurrencyLimit: 4", "concurrencyLimit: 5")

	out := e.MustRun(2, "diff", "-f", f)
	for _, want := range []string{
		`~ ClusterRoleBinding "prefect-worker-binding" will be updated`,
		`! conflict: field manager "kubectl-edit" owns subjects, with a value other than the file's; sync fails on this object unless run with --force-conflicts`,
		`- subjects[1]: {"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"mallory"}`,
		"1 with fields another field manager owns: sync fails on it without --force-conflicts.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	doc := clitest.ParsePlan(t, e.MustRun(2, "diff", "-f", f, "-o", "json"))
	var got []string
	for _, c := range doc.Changes {
		for _, cf := range c.Conflicts {
			got = append(got, c.Key.Kind+" "+cf.Manager+" "+strings.Join(cf.Fields, ","))
		}
	}
	if doc.ForceConflicts || doc.Summary.Conflicts != 1 || strings.Join(got, ";") != "ClusterRoleBinding kubectl-edit subjects" {
		t.Errorf("JSON plan: forceConflicts %v, summary.conflicts %d, conflicts %v", doc.ForceConflicts, doc.Summary.Conflicts, got)
	}

	out = e.MustRun(2, "diff", "-f", f, "--force-conflicts")
	if !strings.Contains(out, `# conflict: field manager "kubectl-edit" owns subjects, with a value other than the file's; --force-conflicts takes it over`) ||
		!strings.Contains(out, "- subjects[1]") || strings.Contains(out, "sync fails") {
		t.Errorf("diff --force-conflicts does not plan the takeover:\n%s", out)
	}

	code, out, errOut := e.Run("sync", "-f", f, "--yes")
	if code != 1 || !strings.Contains(out, `ClusterRoleBinding "prefect-worker-binding": update failed: applying ClusterRoleBinding "prefect-worker-binding": apply conflict: field manager "kubectl-edit" owns subjects, with a value other than the file's`) ||
		!strings.Contains(out, "hint: change it back to the file's, or take it over with --force-conflicts") ||
		!strings.Contains(out, `work pool "cpu-intensive": updated`) {
		t.Fatalf("sync: exit %d, want 1 naming the field and the manager, the pool applied\n%s\n%s", code, out, errOut)
	}
	// A plan saved with --force-conflicts is applied with it.
	saved := filepath.Join(e.Dir, "plan.json")
	e.MustRun(2, "diff", "-f", f, "--force-conflicts", "--out", saved)
	e.MustRun(0, "sync", "-f", f, "--plan", saved, "--yes")
	e.MustRun(0, "diff", "-f", f)
	b, err := e.clientset.RbacV1().ClusterRoleBindings().Get(ctx, "prefect-worker-binding", metav1.GetOptions{})
	if err != nil || len(b.Subjects) != 1 || b.Subjects[0].Name != "prefect-worker" {
		t.Errorf("binding after sync --force-conflicts: %v %+v", err, b)
	}
}

// A new object is dry-run where the server can judge it: a ConfigMap with
// an invalid data key, in a namespace that exists, is refused in the plan,
// on its object, with the server's reason; diff exits 1 and sync changes
// nothing. In a namespace the same sync creates it cannot be dry-run, and
// is planned from the file alone, as before.
func TestInvalidNewObjectIsRefusedByDiff(t *testing.T) {
	e := setup(t)
	cm := func(key string) string {
		return "    - apiVersion: v1\n      kind: ConfigMap\n      metadata:\n        name: cm1\n      data:\n        " + key + ": x\n  secrets:\n"
	}
	bad := e.Example("bad.yaml", "  secrets:\n", cm(`"bad key"`))

	// Namespace prefect does not exist yet: nothing to dry-run into.
	code, out, errOut := e.Run("diff", "-f", bad)
	if code != 2 || !strings.Contains(out, `+ ConfigMap "prefect/cm1" will be created`) || strings.Contains(out+errOut, "refused") || strings.Contains(errOut, "Note:") {
		t.Errorf("diff before the namespace exists: exit %d, want 2, the ConfigMap planned from the file\n%s\n%s", code, out, errOut)
	}

	e.MustRun(0, "sync", "-f", e.Example("pools.yaml"), "--yes")
	code, out, errOut = e.Run("diff", "-f", bad)
	for _, want := range []string{
		`+ ConfigMap "prefect/cm1" will be created`,
		`    ! refused by the API server (dry run): ConfigMap "cm1" is invalid: data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters`,
		"1 refused by the API server (dry run): sync changes nothing until the file is fixed.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	if code != 1 || !strings.Contains(errOut, "Error: the API server refuses 1 object in a dry run; sync would change nothing: fix the file\n  ConfigMap \"prefect/cm1\": ConfigMap \"cm1\" is invalid: data[bad key]") {
		t.Errorf("diff: exit %d, want 1 naming the object and the reason\n%s", code, errOut)
	}
	out = e.MustRun(1, "diff", "-f", bad, "-o", "json")
	if !strings.Contains(out, `"problems": 1`) || !strings.Contains(out, `"problem": "ConfigMap \"cm1\" is invalid: data[bad key]`) {
		t.Errorf("JSON plan lacks the problem:\n%s", out)
	}
	code, out, errOut = e.Run("sync", "-f", bad, "--yes")
	if code != 1 || !strings.Contains(errOut, "nothing was changed: fix the file") || strings.Contains(out, "created (") {
		t.Errorf("sync: exit %d, want 1 with nothing changed\n%s\n%s", code, out, errOut)
	}
	if _, err := e.clientset.CoreV1().ConfigMaps("prefect").Get(e.ctx(), "cm1", metav1.GetOptions{}); err == nil {
		t.Error("the refused ConfigMap exists")
	}

	// A valid one passes its dry run and is created.
	good := e.Example("good.yaml", "  secrets:\n", cm("good-key"))
	out = e.MustRun(2, "diff", "-f", good)
	if !strings.Contains(out, `+ ConfigMap "prefect/cm1" will be created`) || strings.Contains(out, "refused") {
		t.Errorf("diff of a valid ConfigMap:\n%s", out)
	}
	e.MustRun(0, "sync", "-f", good, "--yes")
	e.MustRun(0, "diff", "-f", good)
}

func TestPruneDeletesOnlyLabelledObjects(t *testing.T) {
	e := setup(t)
	extraSA := `    - apiVersion: v1
      kind: ServiceAccount
      metadata:
        name: prefect-worker
    - apiVersion: v1
      kind: ServiceAccount
      metadata:
        name: short-lived
`
	f := e.Example("pools.yaml", "    - apiVersion: v1\n      kind: ServiceAccount\n      metadata:\n        name: prefect-worker\n", extraSA)
	e.MustRun(0, "sync", "-f", f, "--yes")

	ctx := e.ctx()
	foreign := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "hand-made", Namespace: "prefect"}}
	if _, err := e.clientset.CoreV1().ServiceAccounts("prefect").Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Labelled by another set: not ours either.
	other := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "other-set", Namespace: "prefect",
		Labels: map[string]string{"app.kubernetes.io/managed-by": "prefect-apply", "prefect-apply.io/set": "other"}}}
	if _, err := e.clientset.CoreV1().ServiceAccounts("prefect").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	g := e.Example("pools.yaml") // short-lived left the file
	out := e.MustRun(0, "diff", "-f", g)
	if !strings.Contains(out, `ServiceAccount "prefect/short-lived" is no longer in the file`) {
		t.Errorf("diff does not report the orphan:\n%s", out)
	}
	out = e.MustRun(2, "diff", "-f", g, "--prune")
	if !strings.Contains(out, `ServiceAccount "prefect/short-lived" will be deleted`) || strings.Contains(out, "hand-made") || strings.Contains(out, "other-set") {
		t.Errorf("prune plan is wrong:\n%s", out)
	}
	e.MustRun(0, "sync", "-f", g, "--yes", "--prune")
	if _, err := e.clientset.CoreV1().ServiceAccounts("prefect").Get(ctx, "short-lived", metav1.GetOptions{}); err == nil {
		t.Error("short-lived still exists after --prune")
	}
	for _, name := range []string{"hand-made", "other-set", "prefect-worker"} {
		if _, err := e.clientset.CoreV1().ServiceAccounts("prefect").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	e.MustRun(0, "diff", "-f", g)
}

// An object of the set in a namespace the file no longer uses is still
// found, from the namespaces the set's inventory records, and pruned; the
// namespaces are then forgotten and the set is looked for in the file's
// only.
func TestPruneFindsObjectsInNamespacesThatLeftTheFile(t *testing.T) {
	e := setup(t)
	ctx := e.ctx()
	if _, err := e.clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "batch"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	inBatch := `  external:
    - {kind: Namespace, name: batch}
  resources:
    - apiVersion: v1
      kind: ServiceAccount
      metadata:
        name: batch-runner
        namespace: batch
`
	f := e.Example("pools.yaml", "  resources:\n", inBatch)
	e.MustRun(0, "sync", "-f", f, "--yes")
	if _, err := e.clientset.CoreV1().ServiceAccounts("batch").Get(ctx, "batch-runner", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}

	// The lists of a namespaced kind diff sends: one per namespace.
	saLists := func(stderr string) string {
		for _, l := range strings.Split(stderr, "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[0] == "LIST" && f[1] == "serviceaccounts" {
				return f[2]
			}
		}
		return "none"
	}
	g := e.Example("pools.yaml") // batch left the file
	code, out, errOut := e.Run("diff", "-f", g, "--prune", "--stats")
	if code != 2 || !strings.Contains(out, `ServiceAccount "batch/batch-runner" will be deleted`) {
		t.Errorf("diff --prune does not find the object in the namespace that left the file: exit %d\n%s", code, out)
	}
	if n := saLists(errOut); n != "2" {
		t.Errorf("diff listed ServiceAccounts %s times, want 2 (prefect and batch):\n%s", n, errOut)
	}
	e.MustRun(0, "sync", "-f", g, "--yes", "--prune")
	if _, err := e.clientset.CoreV1().ServiceAccounts("batch").Get(ctx, "batch-runner", metav1.GetOptions{}); err == nil {
		t.Error("batch-runner still exists after --prune")
	}
	if _, err := e.clientset.CoreV1().Namespaces().Get(ctx, "batch", metav1.GetOptions{}); err != nil {
		t.Errorf("the namespace the set did not own: %v", err)
	}
	// Only the file's namespace is listed now.
	code, out, errOut = e.Run("diff", "-f", g, "--prune", "--stats")
	if code != 0 || saLists(errOut) != "1" {
		t.Errorf("diff after the prune: exit %d, ServiceAccounts listed %s times, want 1\n%s\n%s", code, saLists(errOut), out, errOut)
	}
}

func TestMissingExternalObjectIsNamed(t *testing.T) {
	e := setup(t)
	envRef := "              name: prefect-basic-auth\n              key: auth-string\n"
	f := e.Example("pools.yaml",
		"  secrets:\n", "  external:\n    - {kind: Secret, name: registry-token, keys: [token]}\n  secrets:\n",
		envRef, envRef+"        - name: REGISTRY_TOKEN\n          valueFrom:\n            secretKeyRef: {name: registry-token, key: token}\n")
	e.MustRun(0, "validate", "-f", f)
	code, _, errOut := e.Run("diff", "-f", f)
	if code != 1 || !strings.Contains(errOut, `Secret "prefect/registry-token"`) || !strings.Contains(errOut, `"gbif-automations"`) {
		t.Fatalf("diff: exit %d, want 1 naming the missing secret and the pool\n%s", code, errOut)
	}
}

// Fields the API server does not change in place (a binding's roleRef, a
// Secret's type) make a replace: shown with the server's reason, refused
// without --allow-replace, then deleted and created again, and in sync.
func TestImmutableFieldsAreAReplace(t *testing.T) {
	e := setup(t)
	f := e.Example("pools.yaml")
	e.MustRun(0, "sync", "-f", f, "--yes")
	ctx := e.ctx()
	rbac := e.clientset.RbacV1().ClusterRoleBindings()
	secrets := e.clientset.CoreV1().Secrets("prefect")
	binding, err := rbac.Get(ctx, "prefect-worker-binding", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := secrets.Get(ctx, "prefect-basic-auth", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	f = e.Example("pools.yaml",
		"        name: prefect-worker-role\n      subjects:", "        name: view\n      subjects:",
		"    - name: prefect-basic-auth\n", "    - name: prefect-basic-auth\n      type: example.com/basic-auth\n")
	out := e.MustRun(2, "diff", "-f", f)
	for _, want := range []string{
		`-/+ ClusterRoleBinding "prefect-worker-binding" will be replaced`,
		`roleRef.name: "prefect-worker-role" → "view"`,
		"(roleRef: field is immutable)",
		`-/+ Secret "prefect/prefect-basic-auth" will be replaced`,
		`type: "Opaque" → "example.com/basic-auth"`,
		"(type: field is immutable)",
		"0 to create, 0 to update, 2 to replace, 0 to delete",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	code, _, errOut := e.Run("sync", "-f", f, "--yes")
	if code != 1 || !strings.Contains(errOut, "replaces 2 Kubernetes objects") || !strings.Contains(errOut, "--allow-replace") {
		t.Errorf("sync without --allow-replace: exit %d\n%s", code, errOut)
	}
	if b, err := rbac.Get(ctx, "prefect-worker-binding", metav1.GetOptions{}); err != nil || b.UID != binding.UID {
		t.Errorf("the refused sync changed the binding: %v", err)
	}

	out = e.MustRun(0, "sync", "-f", f, "--yes", "--allow-replace")
	if !strings.Contains(out, `ClusterRoleBinding "prefect-worker-binding": replaced`) {
		t.Errorf("sync --allow-replace:\n%s", out)
	}
	e.MustRun(0, "diff", "-f", f)
	b, err := rbac.Get(ctx, "prefect-worker-binding", metav1.GetOptions{})
	if err != nil || b.UID == binding.UID || b.RoleRef.Name != "view" {
		t.Errorf("binding after the replace: %v %+v", err, b)
	}
	s, err := secrets.Get(ctx, "prefect-basic-auth", metav1.GetOptions{})
	if err != nil || s.UID == secret.UID || s.Type != "example.com/basic-auth" || string(s.Data["auth-string"]) != canary {
		t.Errorf("secret after the replace: %v type %q, value kept %v", err, s.Type, err == nil && string(s.Data["auth-string"]) == canary)
	}
}

// A replaced object that a finalizer holds: sync waits for it to be gone,
// saying so, then creates it; past --replace-timeout it stops, naming the
// finalizer, and the next sync, once the finalizer is done, creates it. A
// declared object someone else deleted, held the same way, is created
// again once it is gone, without --allow-replace.
func TestReplaceWaitsForFinalizers(t *testing.T) {
	e := setup(t)
	e.MustRun(0, "sync", "-f", e.Example("pools.yaml"), "--yes")
	ctx := e.ctx()
	rbac := e.clientset.RbacV1().ClusterRoleBindings()
	const name, finalizer = "prefect-worker-binding", "prefect-apply.test/hold"
	setFinalizers := func(value string) {
		t.Helper()
		body := `{"metadata":{"finalizers":` + value + `}}`
		if _, err := rbac.Patch(ctx, name, types.MergePatchType, []byte(body), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	terminating := func() (bool, types.UID) {
		b, err := rbac.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, ""
		}
		return b.DeletionTimestamp != nil, b.UID
	}
	waitGone := func() {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if _, err := rbac.Get(ctx, name, metav1.GetOptions{}); err != nil {
				return
			}
		}
		t.Fatal("the binding is still there 30 s after its finalizer was removed")
	}

	// Past the timeout: the old binding is deleted but held; nothing is
	// created, and the message says why.
	setFinalizers(`["` + finalizer + `"]`)
	_, first := terminating()
	view := e.Example("pools.yaml", "        name: prefect-worker-role\n      subjects:", "        name: view\n      subjects:")
	code, out, errOut := e.Run("sync", "-f", view, "--yes", "--allow-replace", "--replace-timeout", "3s")
	if code != 1 || !strings.Contains(out+errOut, `still terminating after 3s (finalizers: `+finalizer+`)`) || !strings.Contains(out+errOut, "run sync again once it is gone") {
		t.Errorf("sync past --replace-timeout: exit %d, want 1 naming the finalizer\n%s\n%s", code, out, errOut)
	}
	if held, uid := terminating(); !held || uid != first {
		t.Fatalf("after the timed-out replace the binding is terminating: %v, same object: %v", held, uid == first)
	}
	setFinalizers("null")
	waitGone()
	e.MustRun(0, "sync", "-f", view, "--yes")
	b, err := rbac.Get(ctx, name, metav1.GetOptions{})
	if err != nil || b.UID == first || b.RoleRef.Name != "view" {
		t.Fatalf("the sync after the finalizer was done: %v %+v", err, b)
	}
	e.MustRun(0, "diff", "-f", view)

	// Within the timeout: sync waits, says it waits, and creates the
	// binding once the finalizer is removed.
	setFinalizers(`["` + finalizer + `"]`)
	second := b.UID
	back := e.Example("pools.yaml") // the same path as view, with the first roleRef
	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := e.Run("sync", "-f", back, "--yes", "--allow-replace", "--replace-timeout", "2m")
		done <- result{code, out, errOut}
	}()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if held, _ := terminating(); held {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("sync ended before deleting the binding: exit %d\n%s\n%s", r.code, r.out, r.errOut)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("sync did not delete the binding within a minute")
		}
	}
	time.Sleep(4 * time.Second) // long enough for sync to say it waits
	select {
	case r := <-done:
		t.Fatalf("sync ended while the finalizer held the old binding: exit %d\n%s\n%s", r.code, r.out, r.errOut)
	default:
	}
	setFinalizers("null")
	var r result
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("sync did not end within a minute of the finalizer's removal")
	}
	if r.code != 0 || !strings.Contains(r.errOut, `ClusterRoleBinding "prefect-worker-binding": waiting up to 2m0s for the old object to be gone (finalizers: `+finalizer+`)`) ||
		!strings.Contains(r.out, `ClusterRoleBinding "prefect-worker-binding": replaced`) {
		t.Errorf("sync that waited: exit %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	b, err = rbac.Get(ctx, name, metav1.GetOptions{})
	if err != nil || b.UID == second || b.RoleRef.Name != "prefect-worker-role" || len(b.Finalizers) != 0 {
		t.Errorf("binding after the waited replace: %v %+v", err, b)
	}
	e.MustRun(0, "diff", "-f", back)

	// Deleted by someone else while a finalizer holds it: diff says it is
	// going, and sync (no --allow-replace needed: it deletes nothing)
	// waits for it to be gone and creates it again.
	setFinalizers(`["` + finalizer + `"]`)
	third := b.UID
	if err := rbac.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if held, _ := terminating(); !held {
		t.Fatal("the deleted binding is not terminating")
	}
	out = e.MustRun(2, "diff", "-f", back)
	if !strings.Contains(out, `-/+ ClusterRoleBinding "prefect-worker-binding" will be replaced`) ||
		!strings.Contains(out, "it is being deleted (finalizers: "+finalizer+"): it is created again once it is gone") {
		t.Errorf("diff of a binding being deleted:\n%s", out)
	}
	go func() {
		code, out, errOut := e.Run("sync", "-f", back, "--yes")
		done <- result{code, out, errOut}
	}()
	time.Sleep(4 * time.Second)
	select {
	case r := <-done:
		t.Fatalf("sync ended while the finalizer held the deleted binding: exit %d\n%s\n%s", r.code, r.out, r.errOut)
	default:
	}
	setFinalizers("null")
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("sync did not end within a minute of the finalizer's removal")
	}
	if r.code != 0 || !strings.Contains(r.out, `ClusterRoleBinding "prefect-worker-binding": replaced`) {
		t.Errorf("sync of a binding being deleted: exit %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	b, err = rbac.Get(ctx, name, metav1.GetOptions{})
	if err != nil || b.UID == third || b.DeletionTimestamp != nil {
		t.Errorf("binding after it was created again: %v %+v", err, b)
	}
	e.MustRun(0, "diff", "-f", back)
}

// A namespace the set created stays, even with --prune, once the file
// lists it under kubernetes.external: deleting it would delete the file's
// own objects in it. (validate refuses a file whose objects or jobs are in
// a namespace it neither declares nor lists as external.)
func TestPruneKeepsWhatTheFileStillUses(t *testing.T) {
	e := setup(t)
	e.MustRun(0, "sync", "-f", e.Example("pools.yaml"), "--yes")

	ns := "    - apiVersion: v1\n      kind: Namespace\n      metadata:\n        name: prefect\n"
	f := e.Example("external.yaml", ns, "", "  resources:\n", "  external:\n    - {kind: Namespace, name: prefect}\n  resources:\n")
	for _, args := range [][]string{{"diff", "-f", f, "--prune"}, {"sync", "-f", f, "--prune", "--yes"}} {
		out := e.MustRun(0, args...)
		if !strings.Contains(out, `Namespace "prefect" is no longer in the file`) ||
			!strings.Contains(out, "kept, even with --prune: the file lists it under kubernetes.external") ||
			!strings.Contains(out, "1 no longer in the file and kept even with --prune") || strings.Contains(out, "will be deleted") {
			t.Errorf("%s: the plan does not keep the namespace, saying why:\n%s", args[0], out)
		}
	}
	n, err := e.clientset.CoreV1().Namespaces().Get(e.ctx(), "prefect", metav1.GetOptions{})
	if err != nil || n.DeletionTimestamp != nil {
		t.Fatalf("namespace prefect after sync --prune: %v, deleting since %v", err, n.GetDeletionTimestamp())
	}
}
