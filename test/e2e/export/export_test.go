// Package export tests adoption end to end: a setup made by hand with the
// official prefect CLI and the Kubernetes API, as the GBIF runbook does it,
// is exported, diffs clean, and is taken over by sync --adopt without
// anything being recreated. Real Prefect server, real prefect CLI, real
// kube-apiserver.
package export

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/state"
	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

// canary is the basic-auth string in the runbook's Secret: no output and no
// exported file may contain it.
const canary = "admin:CANARY-export-29c1"

type env struct {
	*clitest.Harness
	t       *testing.T
	prefect *servers.Prefect
	kube    *servers.Kube
	cs      kubernetes.Interface
	client  *prefect.Client
}

func setup(t *testing.T) *env {
	t.Helper()
	k := servers.StartKube(t)
	p := servers.StartPrefect(t, servers.PrefectOptions{})
	cs := k.Clientset(t)
	client, err := prefect.New(prefect.Connection{URL: p.URL}, prefect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, prefect: p, kube: k, cs: cs, client: client, Harness: clitest.New(t, map[string]string{
		"PREFECT_API_URL": p.URL,
		"KUBECONFIG":      k.Kubeconfig,
	})}
	// The exported files are added to Output too.
	e.NeverPrints(canary)
	return e
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	e.t.Cleanup(cancel)
	return ctx
}

// run runs prefect-apply in-process, fails the test unless it exits with
// want, and returns stdout and stderr together.
func (e *env) run(want int, args ...string) string {
	e.t.Helper()
	out, errOut := e.Must(want, args...)
	return out + errOut
}

// prefectCLI runs the official prefect CLI against the test server.
func (e *env) prefectCLI(args ...string) (string, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, servers.PrefectBin(e.t), args...)
	cmd.Env = append(e.prefect.Env(), "PREFECT_CLI_PROMPT=false")
	cmd.Dir = e.Dir
	out, err := cmd.CombinedOutput()
	e.t.Logf("prefect %s:\n%s", strings.Join(args, " "), out)
	return string(out), err
}

func (e *env) mustPrefect(args ...string) string {
	e.t.Helper()
	out, err := e.prefectCLI(args...)
	if err != nil {
		e.t.Fatalf("prefect %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// runbook carries out the GBIF runbook by hand, with its template bugs
// fixed: the RBAC and the Secret through the Kubernetes API (its kubectl
// apply), the pools and queues with the prefect CLI, the base job template
// in the Prefect 3 format (the worker's default with the runbook's image,
// env, resources and service account) instead of the Prefect 2 {"job": ...}
// one, and no `prefect worker start` in the job's container.
func (e *env) runbook() {
	t, ctx := e.t, e.ctx()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prefect"}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "prefect-worker", Namespace: "prefect"}}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "prefect-worker-role"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "pods/log", "pods/status"}, Verbs: []string{"get", "list", "watch", "create", "delete"}},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "prefect-worker-binding"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "prefect-worker-role"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "prefect-worker", Namespace: "prefect"}}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "prefect-basic-auth", Namespace: "prefect"},
		StringData: map[string]string{"auth-string": canary}}
	create := metav1.CreateOptions{FieldManager: "kubectl-client-side-apply"}
	must(t, first(e.cs.CoreV1().Namespaces().Create(ctx, ns, create)))
	must(t, first(e.cs.CoreV1().ServiceAccounts("prefect").Create(ctx, sa, create)))
	must(t, first(e.cs.RbacV1().ClusterRoles().Create(ctx, role, create)))
	must(t, first(e.cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, create)))
	must(t, first(e.cs.CoreV1().Secrets("prefect").Create(ctx, secret, create)))

	def := filepath.Join(e.Dir, "default.json")
	e.mustPrefect("work-pool", "get-default-base-job-template", "--type", "kubernetes", "--file", def)
	tmpl := readJSON(t, def)
	vars := tmpl["variables"].(map[string]any)["properties"].(map[string]any)
	setDefault := func(name string, v any) { vars[name].(map[string]any)["default"] = v }
	setDefault("image", "gbifnorway/prefect-automations:latest")
	setDefault("namespace", "prefect")
	setDefault("service_account_name", "prefect-worker")
	setDefault("cpu_request", "500m")
	setDefault("memory_request", "1Gi")
	setDefault("cpu_limit", "2")
	setDefault("memory_limit", "4Gi")
	setDefault("env", map[string]any{"PREFECT_API_URL": "https://prefect.svc.gbif.no/api"})
	container(tmpl)["env"] = []any{map[string]any{"name": "PREFECT_API_AUTH_STRING",
		"valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "prefect-basic-auth", "key": "auth-string"}}}}
	writeJSON(t, filepath.Join(e.Dir, "gbif.json"), tmpl)
	e.mustPrefect("work-pool", "create", "gbif-automations", "--type", "kubernetes", "--base-job-template", filepath.Join(e.Dir, "gbif.json"))
	// The runbook's next step fails on Prefect 3, which creates the
	// default queue with the pool.
	if out, err := e.prefectCLI("work-queue", "create", "default", "--pool", "gbif-automations"); err == nil || !strings.Contains(out, "already exists") {
		t.Errorf("prefect work-queue create default: %v, want 'already exists'", err)
	}
	e.mustPrefect("work-queue", "create", "urgent", "--pool", "gbif-automations", "--priority", "1", "--limit", "2")

	// A pool whose template was edited by hand in the UI: the image and
	// the resources written into the job manifest. No overrides express
	// it, so it is exported as it is.
	raw := readJSON(t, def)
	container(raw)["image"] = "gbifnorway/prefect-automations:latest"
	container(raw)["resources"] = map[string]any{"requests": map[string]any{"cpu": "2", "memory": "2Gi"}, "limits": map[string]any{"cpu": "4", "memory": "4Gi"}}
	writeJSON(t, filepath.Join(e.Dir, "cpu.json"), raw)
	e.mustPrefect("work-pool", "create", "cpu-intensive", "--type", "kubernetes", "--base-job-template", filepath.Join(e.Dir, "cpu.json"))
	e.mustPrefect("work-pool", "set-concurrency-limit", "cpu-intensive", "4")
}

func TestExportRoundTripAndAdopt(t *testing.T) {
	e := setup(t)
	e.runbook()
	ctx := e.ctx()
	f := filepath.Join(e.Dir, "pools.yaml")

	out := e.run(0, "export", "--kubernetes", "--set", "gbif", "-o", f)
	// The runbook's Secret reference has no null guard: a worker with its
	// own auth string would put that in the Job instead.
	if !strings.Contains(out, `work pool "gbif-automations": a worker with its own PREFECT_API_AUTH_STRING replaces the template's Secret reference`) {
		t.Errorf("export does not warn of the unguarded Secret reference:\n%s", out)
	}
	raw, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	e.Output.Write(raw)
	t.Logf("%s\nexported:\n%s", out, raw)
	exported := string(raw)
	if !strings.HasPrefix(exported, "# yaml-language-server: $schema=") {
		t.Errorf("no modeline on the first line")
	}
	for _, want := range []string{
		// The template made with the prefect CLI comes back as overrides.
		"jobTemplate:\n      image: gbifnorway/prefect-automations:latest\n      namespace: prefect\n      serviceAccountName: prefect-worker",
		"name: PREFECT_API_AUTH_STRING\n          valueFrom:\n            secretKeyRef:\n              name: prefect-basic-auth\n              key: auth-string",
		"cpu: 500m",
		// The hand-edited one as it is.
		"baseJobTemplate:\n      job_configuration:",
		"concurrencyLimit: 4",
		"kind: ClusterRoleBinding", "name: prefect-worker-role",
		"- kind: Secret\n      name: prefect-basic-auth\n      namespace: prefect\n      keys:\n        - auth-string",
	} {
		if !strings.Contains(exported, want) {
			t.Errorf("export lacks %q", want)
		}
	}
	for _, unwanted := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields", "updated", "id:", "The work pool's default queue"} {
		if strings.Contains(exported, unwanted) {
			t.Errorf("export holds the server-set %q", unwanted)
		}
	}

	e.run(0, "validate", "-f", f)
	// Synced back, the file is a no-op: it matches but for the guard, and
	// what this set does not own yet is only reported (exit 2: the live
	// state differs).
	out = e.run(2, "diff", "-f", f)
	for _, want := range []string{
		`! work pool "gbif-automations" exists and differs from the file, not managed by set "gbif"`,
		`+ baseJobTemplate.variables.properties.env.default.PREFECT_API_AUTH_STRING: null`,
		`! work pool "cpu-intensive" exists, not managed by set "gbif"; --adopt takes it over`,
		`! ClusterRole "prefect-worker-role" exists, not managed by set "gbif"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	out = e.run(0, "sync", "-f", f, "--yes")
	if !strings.Contains(out, `Left alone, not managed by set "gbif"`) {
		t.Errorf("sync without --adopt does not report what it left alone:\n%s", out)
	}

	before := e.identities()
	out = e.run(2, "diff", "-f", f, "--adopt")
	if !strings.Contains(out, "to take over (--adopt)") || strings.Contains(out, "will be created") || strings.Contains(out, "will be replaced") {
		t.Errorf("diff --adopt:\n%s", out)
	}
	e.run(0, "sync", "-f", f, "--adopt", "--yes")
	out = e.run(0, "diff", "-f", f)
	if !strings.Contains(out, "No changes") {
		t.Errorf("after adopting, diff is not clean:\n%s", out)
	}
	if after := e.identities(); !equal(before, after) {
		t.Errorf("objects were recreated:\nbefore %v\nafter  %v", before, after)
	}
	sa, err := e.cs.CoreV1().ServiceAccounts("prefect").Get(ctx, "prefect-worker", metav1.GetOptions{})
	must(t, err)
	if sa.Labels[state.SetLabel] != "gbif" {
		t.Errorf("adopted service account labels: %v", sa.Labels)
	}
	sec, err := e.cs.CoreV1().Secrets("prefect").Get(ctx, "prefect-basic-auth", metav1.GetOptions{})
	must(t, err)
	if string(sec.Data["auth-string"]) != canary || len(sec.Labels) != 0 {
		t.Errorf("the external Secret was changed: labels %v", sec.Labels)
	}

	// Exporting again gives the same file.
	g := filepath.Join(e.Dir, "again.yaml")
	e.run(0, "export", "--kubernetes", "--set", "gbif", "-o", g)
	again, _ := os.ReadFile(g)
	if string(again) != strings.Replace(exported, "sync -f "+f, "sync -f "+g, 1) {
		t.Errorf("a second export differs from the first:\n%s", again)
	}
}

// Without --adopt, sync leaves an unowned object alone even where it
// differs from the file; --adopt then applies the difference in place
// (with --force-conflicts where another field manager set the field).
func TestUnmanagedObjectsAreLeftAlone(t *testing.T) {
	e := setup(t)
	e.runbook()
	ctx := e.ctx()
	f := filepath.Join(e.Dir, "pools.yaml")
	e.run(0, "export", "--kubernetes", "-o", f, "--pool", "cpu-intensive", "--pool", "gbif-automations")
	raw, _ := os.ReadFile(f)
	edited := strings.Replace(string(raw), "concurrencyLimit: 4", "concurrencyLimit: 6", 1)
	edited = strings.Replace(edited, "            - pods/status\n", "            - pods/status\n            - pods/exec\n", 1)
	if edited == string(raw) {
		t.Fatal("nothing to edit in the export")
	}
	must(t, os.WriteFile(f, []byte(edited), 0o644))

	out := e.run(2, "diff", "-f", f)
	for _, want := range []string{
		`! work pool "cpu-intensive" exists and differs from the file, not managed by set "pools"`,
		"~ concurrencyLimit: 4 → 6",
		`! ClusterRole "prefect-worker-role" exists and differs from the file`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	out = e.run(0, "sync", "-f", f, "--yes")
	if !strings.Contains(out, "Left alone") || strings.Contains(out, "updated (") {
		t.Errorf("sync without --adopt:\n%s", out)
	}
	pool, err := e.client.GetPool(ctx, "cpu-intensive")
	must(t, err)
	role, err := e.cs.RbacV1().ClusterRoles().Get(ctx, "prefect-worker-role", metav1.GetOptions{})
	must(t, err)
	if *pool.ConcurrencyLimit != 4 || len(role.Rules[0].Resources) != 3 {
		t.Errorf("sync without --adopt changed unowned objects: limit %d, rules %v", *pool.ConcurrencyLimit, role.Rules[0].Resources)
	}
	// The inventory did not take them either.
	vars, err := e.client.ListVariables(ctx, "prefect-apply_pools_")
	must(t, err)
	if len(vars) != 0 {
		t.Errorf("inventory written for unmanaged objects: %v", vars)
	}

	// The rule another field manager wrote is a conflict, as for any
	// object: adopting does not force it.
	if out := e.run(1, "sync", "-f", f, "--yes", "--adopt"); !strings.Contains(out, `ClusterRole "prefect-worker-role": update failed`) || !strings.Contains(out, "--force-conflicts") {
		t.Errorf("sync --adopt over another manager's field:\n%s", out)
	}
	e.run(0, "sync", "-f", f, "--yes", "--adopt", "--force-conflicts")
	pool, err = e.client.GetPool(ctx, "cpu-intensive")
	must(t, err)
	role, err = e.cs.RbacV1().ClusterRoles().Get(ctx, "prefect-worker-role", metav1.GetOptions{})
	must(t, err)
	if *pool.ConcurrencyLimit != 6 || len(role.Rules[0].Resources) != 4 {
		t.Errorf("sync --adopt did not apply the differences: limit %d, rules %v", *pool.ConcurrencyLimit, role.Rules[0].Resources)
	}
	e.run(0, "diff", "-f", f)

	// On the same servers (each pair costs a start): secrets pasted into
	// templates by hand never reach the exported file.
	e.secretsStayOut()
}

// Secret values pasted into templates by hand, as the runbook's users do.
const (
	canaryAPIKey   = "pnu_CANARY-export-key-7b21"
	canaryPassword = "CANARY-export-password-7b21"
	canaryToken    = "CANARY-export-token-7b21"
	canaryS3       = "CANARY-export-s3-7b21"
)

// secretsStayOut makes two pools with secret values in plain text: a
// Kubernetes one with a key and a password in the env variable's default
// and a token in a literal env entry of the job manifest, and a process
// one with a secret in its env default. export writes none of them, names
// each in a warning, and gives a file that validates; with the named
// variables set, sync --adopt takes the pools over, diff is clean, and the
// Kubernetes template then holds Secret references instead of the values.
func (e *env) secretsStayOut() {
	t, ctx := e.t, e.ctx()
	e.NeverPrints(canaryAPIKey, canaryPassword, canaryToken, canaryS3)
	def := filepath.Join(e.Dir, "default.json")
	k := readJSON(t, def)
	vars := k["variables"].(map[string]any)["properties"].(map[string]any)
	vars["namespace"].(map[string]any)["default"] = "prefect"
	vars["env"].(map[string]any)["default"] = map[string]any{"PREFECT_API_URL": "https://prefect.example/api",
		"PREFECT_API_KEY": canaryAPIKey, "DB_PASSWORD": canaryPassword}
	container(k)["env"] = []any{map[string]any{"name": "API_TOKEN", "value": canaryToken}}
	writeJSON(t, filepath.Join(e.Dir, "leaky.json"), k)
	e.mustPrefect("work-pool", "create", "leaky", "--type", "kubernetes", "--base-job-template", filepath.Join(e.Dir, "leaky.json"))
	proc := filepath.Join(e.Dir, "process.json")
	e.mustPrefect("work-pool", "get-default-base-job-template", "--type", "process", "--file", proc)
	p := readJSON(t, proc)
	p["variables"].(map[string]any)["properties"].(map[string]any)["env"].(map[string]any)["default"] = map[string]any{
		"LOG_LEVEL": "INFO", "S3_SECRET": canaryS3}
	writeJSON(t, proc, p)
	e.mustPrefect("work-pool", "create", "leaky-local", "--type", "process", "--base-job-template", proc)

	f := filepath.Join(e.Dir, "leaky.yaml")
	pools := []string{"--pool", "leaky", "--pool", "leaky-local"}
	out := e.run(0, append([]string{"export", "--kubernetes", "--set", "leaky", "-o", f}, pools...)...)
	raw, err := os.ReadFile(f)
	must(t, err)
	e.Output.Write(raw)
	t.Logf("%s\nexported:\n%s", out, raw)
	env := map[string]string{"LEAKY_PREFECT_API_KEY": canaryAPIKey, "LEAKY_DB_PASSWORD": canaryPassword,
		"LEAKY_API_TOKEN": canaryToken, "LEAKY_LOCAL_S3_SECRET": canaryS3}
	for name := range env {
		if !strings.Contains(out, "set "+name+" to the value before") {
			t.Errorf("no warning names %s:\n%s", name, out)
		}
	}
	if strings.Contains(out, "please report it") || !strings.Contains(out, `work pool "leaky": the first sync replaces the plain values`) {
		t.Errorf("export does not list the values it moved as its own choice:\n%s", out)
	}
	for _, want := range []string{"secretKeyRef:\n              name: leaky-env\n              key: DB_PASSWORD", "fromEnv: LEAKY_API_TOKEN", "S3_SECRET: ${LEAKY_LOCAL_S3_SECRET}"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("export lacks %q", want)
		}
	}
	// To standard output, and the error paths: nothing shows a value.
	e.run(0, append([]string{"export"}, pools...)...)
	e.run(1, "export", "--pool", "leaky", "--pool", "nope")
	e.Run("diff", "-f", f)
	e.Run("status", "-f", f)
	for _, args := range [][]string{{"status"}, {"status", "-o", "json"}} {
		e.run(0, args...)
	}

	for name, v := range env {
		e.Vars[name] = v
	}
	e.run(0, "validate", "-f", f)
	e.run(0, "sync", "-f", f, "--adopt", "--yes")
	if out := e.run(0, "diff", "-f", f); !strings.Contains(out, "No changes") {
		t.Errorf("after adopting, diff is not clean:\n%s", out)
	}
	for _, args := range [][]string{{"status", "-f", f}, {"status", "-f", f, "-o", "json"}} {
		e.run(0, args...)
	}
	leaky, err := e.client.GetPool(ctx, "leaky")
	must(t, err)
	tmpl, _ := json.Marshal(leaky.BaseJobTemplate)
	for _, v := range []string{canaryAPIKey, canaryPassword, canaryToken} {
		if strings.Contains(string(tmpl), v) {
			t.Errorf("the synced template still holds %q", v)
		}
	}
	if !strings.Contains(string(tmpl), `"secretKeyRef":{"key":"DB_PASSWORD","name":"leaky-env"}`) {
		t.Errorf("the synced template has no Secret reference: %s", tmpl)
	}
	sec, err := e.cs.CoreV1().Secrets("prefect").Get(ctx, "leaky-env", metav1.GetOptions{})
	must(t, err)
	if string(sec.Data["DB_PASSWORD"]) != canaryPassword || string(sec.Data["PREFECT_API_KEY"]) != canaryAPIKey || string(sec.Data["API_TOKEN"]) != canaryToken {
		t.Errorf("the Secret does not hold the values: keys %d", len(sec.Data))
	}
	// A process template cannot read a Secret: it holds the value the
	// variable gives, as the warning says.
	local, err := e.client.GetPool(ctx, "leaky-local")
	must(t, err)
	if tmpl, _ := json.Marshal(local.BaseJobTemplate); !strings.Contains(string(tmpl), canaryS3) {
		t.Errorf("the process template lost its value")
	}
}

// identities are the server ids of the pools, queues and objects.
func (e *env) identities() map[string]string {
	e.t.Helper()
	ctx := e.ctx()
	live, err := e.client.ReadState(ctx)
	must(e.t, err)
	ids := map[string]string{}
	for name, p := range live.Pools {
		ids["pool/"+name] = p.ID
	}
	for k, q := range live.Queues {
		ids["queue/"+k.Namespace+"/"+k.Name] = q.ID
	}
	sa, err := e.cs.CoreV1().ServiceAccounts("prefect").Get(ctx, "prefect-worker", metav1.GetOptions{})
	must(e.t, err)
	role, err := e.cs.RbacV1().ClusterRoles().Get(ctx, "prefect-worker-role", metav1.GetOptions{})
	must(e.t, err)
	binding, err := e.cs.RbacV1().ClusterRoleBindings().Get(ctx, "prefect-worker-binding", metav1.GetOptions{})
	must(e.t, err)
	ids["sa"], ids["role"], ids["binding"] = string(sa.UID), string(role.UID), string(binding.UID)
	return ids
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func container(tmpl map[string]any) map[string]any {
	jc := tmpl["job_configuration"].(map[string]any)
	spec := jc["job_manifest"].(map[string]any)["spec"].(map[string]any)
	pod := spec["template"].(map[string]any)["spec"].(map[string]any)
	return pod["containers"].([]any)[0].(map[string]any)
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	must(t, err)
	var v map[string]any
	must(t, json.Unmarshal(raw, &v))
	return v
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := json.MarshalIndent(v, "", "  ")
	must(t, err)
	must(t, os.WriteFile(path, raw, 0o644))
}

func first[T any](_ T, err error) error { return err }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
