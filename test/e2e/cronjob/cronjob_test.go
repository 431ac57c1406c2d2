// Package cronjob tests the drift check of examples/cronjob on a real
// kube-apiserver: the ServiceAccount, ClusterRole and Role of rbac.yaml are
// what `prefect-apply diff` needs, all of it and nothing more.
package cronjob

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/prefect-apply/prefect-apply/internal/state"
	"github.com/prefect-apply/prefect-apply/internal/testutil/repo"
	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

const (
	namespace = "prefect-apply"
	account   = "prefect-apply-diff"
	syncer    = "prefect-apply-sync"
	user      = "system:serviceaccount:" + namespace + ":" + account
	authValue = "admin:drift-check-a81f"
)

var resources = map[string]schema.GroupVersionResource{
	"Namespace":          {Version: "v1", Resource: "namespaces"},
	"ServiceAccount":     {Version: "v1", Resource: "serviceaccounts"},
	"ClusterRole":        {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"},
	"ClusterRoleBinding": {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"},
	"Role":               {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
	"RoleBinding":        {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
	"CronJob":            {Group: "batch", Version: "v1", Resource: "cronjobs"},
}

type env struct {
	*clitest.Harness
	t       *testing.T
	root    string
	admin   *rest.Config
	cs      kubernetes.Interface
	dyn     dynamic.Interface
	prefect *servers.Prefect
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	e.t.Cleanup(cancel)
	return ctx
}

// run runs prefect-apply in-process with the given kubeconfig; it returns
// the exit code and stdout and stderr together.
func (e *env) run(kubeconfig string, args ...string) (int, string) {
	e.t.Helper()
	e.Vars["KUBECONFIG"] = kubeconfig
	code, out, errOut := e.Run(args...)
	return code, out + errOut
}

// manifests reads the objects of a multi-document YAML file.
func (e *env) manifests(path string) []*unstructured.Unstructured {
	e.t.Helper()
	f, err := os.Open(path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var out []*unstructured.Unstructured
	for {
		var o unstructured.Unstructured
		if err := dec.Decode(&o.Object); err == io.EOF {
			return out
		} else if err != nil {
			e.t.Fatalf("%s: %v", path, err)
		}
		if len(o.Object) > 0 {
			out = append(out, &o)
		}
	}
}

// apply server-side applies manifests as kubectl apply --server-side does.
func (e *env) apply(objs []*unstructured.Unstructured, dryRun bool) {
	e.t.Helper()
	for _, o := range objs {
		gvr, ok := resources[o.GetKind()]
		if !ok {
			e.t.Fatalf("no resource for kind %s", o.GetKind())
		}
		body, err := o.MarshalJSON()
		if err != nil {
			e.t.Fatal(err)
		}
		opts := metav1.PatchOptions{FieldManager: "kubectl", Force: new(true)}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		var ri dynamic.ResourceInterface = e.dyn.Resource(gvr)
		if ns := o.GetNamespace(); ns != "" {
			ri = e.dyn.Resource(gvr).Namespace(ns)
		}
		if _, err := ri.Patch(e.ctx(), o.GetName(), types.ApplyPatchType, body, opts); err != nil {
			e.t.Fatalf("applying %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// tokenKubeconfig writes a kubeconfig that authenticates as the drift
// check's ServiceAccount with a bound token from the TokenRequest API, as
// `kubectl create token` makes.
func (e *env) tokenKubeconfig(account string) string {
	e.t.Helper()
	tr, err := e.cs.CoreV1().ServiceAccounts(namespace).CreateToken(e.ctx(), account,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	ca := e.admin.CAData
	if len(ca) == 0 && e.admin.CAFile != "" {
		if ca, err = os.ReadFile(e.admin.CAFile); err != nil {
			e.t.Fatal(err)
		}
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: e.admin.Host, CertificateAuthorityData: ca}
	cfg.AuthInfos[account] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["drift"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: account}
	cfg.CurrentContext = "drift"
	path := filepath.Join(e.Dir, account+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// allowed asks the authorizer whether the drift check may do something.
func (e *env) allowed(user string, p permission) bool {
	e.t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: p.ns, Verb: p.verb, Group: p.group, Resource: p.resource, Name: p.name},
	}}
	got, err := e.cs.AuthorizationV1().SubjectAccessReviews().Create(e.ctx(), sar, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return got.Status.Allowed
}

// permission is one verb on one resource (and name, if the rule names
// any), granted by the ClusterRole (ns "") or by the Role in namespace ns.
type permission struct {
	ns                          string
	rule                        int
	verb, group, resource, name string
}

func (p permission) String() string {
	s := fmt.Sprintf("%s %s", p.verb, p.resource)
	if p.group != "" {
		s = fmt.Sprintf("%s %s.%s", p.verb, p.resource, p.group)
	}
	if p.name != "" {
		s += "/" + p.name
	}
	if p.ns != "" {
		return fmt.Sprintf("Role %s rule %d: %s", p.ns, p.rule, s)
	}
	return fmt.Sprintf("rule %d: %s", p.rule, s)
}

// atoms splits the rules of the role in ns into single permissions.
func atoms(ns string, rules []rbacv1.PolicyRule) []permission {
	var out []permission
	for i, r := range rules {
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					for _, n := range names {
						out = append(out, permission{ns: ns, rule: i, verb: v, group: g, resource: res, name: n})
					}
				}
			}
		}
	}
	return out
}

// rulesOf returns the rules of the roles in ns ("" for the ClusterRole)
// made of all but drop (nil: all).
func rulesOf(all []permission, drop *permission, ns string) []rbacv1.PolicyRule {
	rules := []rbacv1.PolicyRule{}
	for _, p := range all {
		if p.ns != ns || drop != nil && p == *drop {
			continue
		}
		r := rbacv1.PolicyRule{APIGroups: []string{p.group}, Resources: []string{p.resource}, Verbs: []string{p.verb}}
		if p.name != "" {
			r.ResourceNames = []string{p.name}
		}
		rules = append(rules, r)
	}
	return rules
}

// setRules gives the ClusterRole and the Roles named as the account all
// the permissions but drop (nil: all), and waits until the authorizer sees
// the change.
func (e *env) setRules(account string, all []permission, drop *permission, probe permission, wantAllowed bool) {
	e.t.Helper()
	user := "system:serviceaccount:" + namespace + ":" + account
	role, err := e.cs.RbacV1().ClusterRoles().Get(e.ctx(), account, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	role.Rules = rulesOf(all, drop, "")
	if _, err := e.cs.RbacV1().ClusterRoles().Update(e.ctx(), role, metav1.UpdateOptions{FieldManager: "test"}); err != nil {
		e.t.Fatal(err)
	}
	done := map[string]bool{"": true}
	for _, p := range all {
		if done[p.ns] {
			continue
		}
		done[p.ns] = true
		r, err := e.cs.RbacV1().Roles(p.ns).Get(e.ctx(), account, metav1.GetOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		r.Rules = rulesOf(all, drop, p.ns)
		if _, err := e.cs.RbacV1().Roles(p.ns).Update(e.ctx(), r, metav1.UpdateOptions{FieldManager: "test"}); err != nil {
			e.t.Fatal(err)
		}
	}
	err = wait.PollUntilContextTimeout(e.ctx(), 50*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) { return e.allowed(user, probe) == wantAllowed, nil })
	if err != nil {
		e.t.Fatalf("the authorizer did not pick up the rules (%s allowed: want %v): %v", probe, wantAllowed, err)
	}
}

// drift changes the synced objects the way people do by hand: a rule and
// a subject edited with kubectl edit, and every object without its
// ownership labels (recreated by hand, or relabelled). diff then has to
// get each declared object and dry-run every kind of change.
func (e *env) drift() {
	e.t.Helper()
	ctx := e.ctx()
	edit := metav1.PatchOptions{FieldManager: "kubectl-edit"}
	if _, err := e.cs.RbacV1().ClusterRoles().Patch(ctx, "prefect-worker-role", types.JSONPatchType,
		[]byte(`[{"op":"add","path":"/rules/0/verbs/-","value":"patch"}]`), edit); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.cs.RbacV1().ClusterRoleBindings().Patch(ctx, "prefect-worker-binding", types.JSONPatchType,
		[]byte(`[{"op":"add","path":"/subjects/-","value":{"kind":"ServiceAccount","name":"default","namespace":"prefect"}}]`), edit); err != nil {
		e.t.Fatal(err)
	}
	unlabel := []byte(`{"metadata":{"labels":{"app.kubernetes.io/managed-by":null,"prefect-apply.io/set":null}}}`)
	for _, o := range []struct {
		gvr       schema.GroupVersionResource
		ns, name  string
		clustered bool
	}{
		{schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, "", "prefect", true},
		{schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, "prefect", "prefect-worker", false},
		{schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, "prefect", "prefect-basic-auth", false},
		{schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}, "prefect", "shared-data", false},
		{resources["ClusterRole"], "", "prefect-worker-role", true},
		{resources["ClusterRoleBinding"], "", "prefect-worker-binding", true},
	} {
		var ri dynamic.ResourceInterface = e.dyn.Resource(o.gvr)
		if !o.clustered {
			ri = e.dyn.Resource(o.gvr).Namespace(o.ns)
		}
		if _, err := ri.Patch(ctx, o.name, types.MergePatchType, unlabel, metav1.PatchOptions{FieldManager: "kubectl-label"}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// setup starts the servers; the examples are installed by each test.
func setup(t *testing.T) (*env, *servers.Kube, string) {
	k := servers.StartKube(t)
	p := servers.StartPrefect(t, servers.PrefectOptions{})
	admin := k.Config(t)
	e := &env{t: t, root: repo.Root(t), admin: admin, prefect: p, Harness: clitest.New(t, map[string]string{
		"PREFECT_API_URL": p.URL, "PREFECT_API_AUTH_STRING": authValue, "KUBECONFIG": k.Kubeconfig,
	})}
	e.cs = k.Clientset(t)
	e.dyn = k.Dynamic(t)
	return e, k, filepath.Join(e.root, "examples", "pools.yaml")
}

// permsOf returns the permissions the ClusterRole and the Roles among
// manifests grant.
func permsOf(t *testing.T, objs []*unstructured.Unstructured) []permission {
	t.Helper()
	var out []permission
	for _, o := range objs {
		if o.GetKind() == "ClusterRole" || o.GetKind() == "Role" {
			var role rbacv1.ClusterRole // a Role has the same rules
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &role); err != nil {
				t.Fatal(err)
			}
			out = append(out, atoms(o.GetNamespace(), role.Rules)...)
		}
	}
	if len(out) == 0 {
		t.Fatal("no ClusterRole or Role")
	}
	return out
}

func TestDriftCheckNeedsExactlyItsRole(t *testing.T) {
	e, k, pools := setup(t)
	example := filepath.Join(e.root, "examples", "cronjob")
	if code, out := e.run(k.Kubeconfig, "sync", "-f", pools, "--yes"); code != 0 {
		t.Fatalf("sync as admin: exit %d\n%s", code, out)
	}
	rbac := e.manifests(filepath.Join(example, "rbac.yaml"))
	e.apply(rbac, false)
	// The CronJob is a valid batch/v1 object for this API server.
	e.apply(e.manifests(filepath.Join(example, "cronjob.yaml")), true)

	perms := permsOf(t, rbac)
	if len(perms) < 20 {
		t.Fatalf("rbac.yaml grants %d permissions; the roles were not read", len(perms))
	}
	// The binding reaches the authorizer a moment after it is created.
	e.setRules(account, perms, nil, perms[0], true)
	kubeconfig := e.tokenKubeconfig(account)

	// In sync: exit 0.
	if code, out := e.run(kubeconfig, "diff", "-f", pools); code != 0 {
		t.Fatalf("diff as %s on a synced cluster: exit %d, want 0\n%s", user, code, out)
	}
	// Drifted: exit 2, the changes named.
	e.drift()
	code, out := e.run(kubeconfig, "diff", "-f", pools)
	if code != 2 || !strings.Contains(out, `ClusterRole "prefect-worker-role" exists and differs from the file`) ||
		!strings.Contains(out, `ClusterRoleBinding "prefect-worker-binding" exists and differs from the file`) ||
		!strings.Contains(out, `ServiceAccount "prefect/prefect-worker" exists, not managed by set "gbif"`) {
		t.Fatalf("diff as %s on a drifted cluster: exit %d, want 2 with the drift named\n%s", user, code, out)
	}
	t.Logf("diff as %s:\n%s", user, out)

	// Each permission is needed: without it, diff fails and says why.
	for _, drop := range perms {
		t.Run(drop.String(), func(t *testing.T) {
			e.t = t
			e.setRules(account, perms, &drop, drop, false)
			code, out := e.run(kubeconfig, "diff", "-f", pools)
			if code != 1 || !strings.Contains(out, "forbidden") {
				t.Errorf("diff without %s: exit %d, want 1 (forbidden)\n%s", drop, code, out)
			}
		})
	}
	e.t = t
	e.setRules(account, perms, nil, perms[0], true)
	if code, out := e.run(kubeconfig, "diff", "-f", pools); code != 2 {
		t.Errorf("diff with the role restored: exit %d, want 2\n%s", code, out)
	}
}

// The deploy identity of sync-rbac.yaml creates everything from an empty
// cluster and repairs drift; without create it cannot start.
func TestSyncRoleSuffices(t *testing.T) {
	e, _, pools := setup(t)
	example := filepath.Join(e.root, "examples", "cronjob")
	// The drift check's namespace, without its Role in the namespace sync
	// has yet to create.
	var base []*unstructured.Unstructured
	for _, o := range e.manifests(filepath.Join(example, "rbac.yaml")) {
		if o.GetNamespace() != "prefect" {
			base = append(base, o)
		}
	}
	e.apply(base, false)
	objs := e.manifests(filepath.Join(example, "sync-rbac.yaml"))
	e.apply(objs, false)
	perms := permsOf(t, objs)
	var create permission
	for _, p := range perms {
		if p.verb == "create" && p.resource == "namespaces" {
			create = p
		}
	}
	// Without create on the namespace, sync cannot begin.
	e.setRules(syncer, perms, &create, create, false)
	kubeconfig := e.tokenKubeconfig(syncer)
	if code, out := e.run(kubeconfig, "sync", "-f", pools, "--yes"); code != 1 || !strings.Contains(out, "forbidden") {
		t.Fatalf("sync without %s: exit %d, want 1\n%s", create, code, out)
	}
	e.setRules(syncer, perms, nil, create, true)
	if code, out := e.run(kubeconfig, "sync", "-f", pools, "--yes"); code != 0 {
		t.Fatalf("sync as %s on an empty cluster: exit %d\n%s", syncer, code, out)
	}
	if code, out := e.run(kubeconfig, "diff", "-f", pools); code != 0 {
		t.Fatalf("diff after sync: exit %d\n%s", code, out)
	}
	e.drift()
	if code, out := e.run(kubeconfig, "sync", "-f", pools, "--yes", "--adopt", "--force-conflicts"); code != 0 {
		t.Fatalf("sync as %s on a drifted cluster: exit %d\n%s", syncer, code, out)
	}
	if code, out := e.run(kubeconfig, "diff", "-f", pools); code != 0 {
		t.Fatalf("diff after repairing the drift: exit %d\n%s", code, out)
	}
}

// diff and sync list every managed kind (state.Kinds) to find the set's
// objects, so both identities may list each: the cluster-scoped kinds
// through their ClusterRole, the namespaced ones through it or the Role in
// the set's namespace. No server needed.
func TestRolesListEveryManagedKind(t *testing.T) {
	e := &env{t: t, root: repo.Root(t)}
	for _, file := range []string{"rbac.yaml", "sync-rbac.yaml"} {
		lists := map[string]bool{}
		for _, p := range permsOf(t, e.manifests(filepath.Join(e.root, "examples", "cronjob", file))) {
			if p.verb == "list" && p.name == "" && (p.ns == "" || p.ns == "prefect") {
				lists[p.group+"/"+p.resource+"@"+p.ns] = true
			}
		}
		for _, k := range state.Kinds {
			r := k.Group + "/" + k.Resource
			if !lists[r+"@"] && (k.Scope == state.ClusterScoped || !lists[r+"@prefect"]) {
				t.Errorf("%s grants no list on %s (kind %s)", file, k.Resource, k.Kind)
			}
		}
	}
}
