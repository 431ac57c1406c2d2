package export

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/desired"
	"github.com/prefect-apply/prefect-apply/internal/jobtemplate"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const canary = "CANARY-export-5d1e"

// fakeKube serves objects from a map, like a cluster would.
type fakeKube struct {
	objs map[state.Key]*unstructured.Unstructured
}

var _ Kube = (*fakeKube)(nil)

func (f *fakeKube) Get(_ context.Context, key state.Key) (*unstructured.Unstructured, bool, error) {
	key.Group = groupOf(key.Kind)
	o, ok := f.objs[key]
	if !ok {
		return nil, false, nil
	}
	return o.DeepCopy(), true, nil
}

func (f *fakeKube) List(_ context.Context, kind state.Key, ns string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for k, o := range f.objs {
		if k.Kind == kind.Kind && (ns == "" || k.Namespace == ns) {
			out = append(out, o.DeepCopy())
		}
	}
	return out, nil
}

func groupOf(kind string) string {
	if strings.Contains(kind, "Role") {
		return rbacGroup
	}
	return ""
}

// exampleServers is what the servers hold after the GBIF runbook was
// carried out by hand: examples/pools.yaml's pools, queues and Kubernetes
// objects, without any ownership.
func exampleServers(t *testing.T) (*state.State, *fakeKube) {
	t.Helper()
	doc, probs := config.LoadFile(filepath.Join("..", "..", "examples", "pools.yaml"), config.Options{LookupEnv: func(string) (string, bool) { return canary, true }})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	f, probs := doc.Validate()
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	want, err := desired.Build(f, desired.Options{LookupEnv: func(string) (string, bool) { return canary, true }})
	if err != nil {
		t.Fatal(err)
	}
	live := state.New()
	no := false
	for name, p := range want.Pools {
		lp := *p
		lp.Paused, lp.ID, lp.Updated = &no, "id-"+name, "2026-11-26T00:00:00Z"
		live.AddPool(&lp)
	}
	for _, q := range want.Queues {
		lq := *q
		lq.Paused = &no
		if lq.Description == nil && lq.Name == "default" {
			d := defaultQueueDescription
			lq.Description = &d
		}
		live.AddQueue(&lq)
	}
	kube := &fakeKube{objs: map[state.Key]*unstructured.Unstructured{}}
	for k, o := range want.Objects {
		lo := o.DeepCopy()
		lo.SetLabels(nil)
		lo.SetResourceVersion("42")
		lo.SetUID("uid")
		lo.SetManagedFields(nil)
		if k.Kind == "Secret" {
			lo.Object["data"] = map[string]any{"auth-string": canary}
		}
		kube.objs[k] = lo
	}
	return live, kube
}

func export(t *testing.T, live *state.State, kube Kube, opts Options) (string, *Export) {
	t.Helper()
	e, err := Build(context.Background(), live, kube, opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, e, "pools.yaml"); err != nil {
		t.Fatal(err)
	}
	check, err := Verify(buf.Bytes(), "pools.yaml", live, e)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range check.Problems {
		t.Errorf("verify: %s", p)
	}
	if t.Failed() {
		t.Logf("export:\n%s", buf.String())
	}
	return buf.String(), e
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the export (go test -update rewrites it):\n%s", path, got)
	}
}

func TestExportTheRunbook(t *testing.T) {
	live, kube := exampleServers(t)
	out, e := export(t, live, kube, Options{Set: "gbif", Kubernetes: true})
	golden(t, "gbif-kubernetes.yaml", out)
	if !strings.HasPrefix(out, "# yaml-language-server: $schema=") {
		t.Errorf("the export does not start with the modeline:\n%s", out)
	}
	if strings.Contains(out, canary) {
		t.Errorf("the export holds the Secret's value")
	}
	for _, p := range e.File.Pools {
		if p.JobTemplate == nil || p.BaseJobTemplate != nil {
			t.Errorf("pool %s: not exported as jobTemplate overrides", p.Name)
		}
	}
	var kinds []string
	for _, r := range e.File.Kubernetes.Resources {
		kinds = append(kinds, r["kind"].(string))
	}
	if want := []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding"}; !reflect.DeepEqual(kinds, want) {
		t.Errorf("resources %v, want %v", kinds, want)
	}
	var external []string
	for _, x := range e.File.Kubernetes.External {
		external = append(external, x.Kind+"/"+x.Name+"/"+strings.Join(x.Keys, ","))
	}
	if want := []string{"Namespace/prefect/", "Secret/prefect-basic-auth/auth-string", "PersistentVolumeClaim/shared-data/"}; !reflect.DeepEqual(external, want) {
		t.Errorf("external %v, want %v", external, want)
	}
	if !strings.Contains(out, "auth-string: {fromEnv: PREFECT_BASIC_AUTH_AUTH_STRING}") {
		t.Errorf("no kubernetes.secrets hint for the Secret")
	}

	// Without --kubernetes nothing is read from the cluster; what the
	// templates use is listed as external.
	out, _ = export(t, live, nil, Options{Set: "gbif", Pools: []string{"gpu-tasks", "gbif-automations"}})
	golden(t, "gbif-prefect.yaml", out)

	// The same servers give the same file.
	again, _ := export(t, live, kube, Options{Set: "gbif", Kubernetes: true})
	if first, _ := export(t, live, kube, Options{Set: "gbif", Kubernetes: true}); again != first {
		t.Errorf("two exports of the same state differ")
	}
}

func TestExportRawAndOddValues(t *testing.T) {
	live, _ := exampleServers(t)
	// A template edited by hand: the image written into the manifest.
	tmpl := live.Pools["gpu-tasks"].BaseJobTemplate
	containers := tmpl["job_configuration"].(map[string]any)["job_manifest"].(map[string]any)["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)
	containers[0].(map[string]any)["image"] = "busybox:${TAG}"
	containers[0].(map[string]any)["resources"] = map[string]any{"limits": map[string]any{"cpu": "1", "nvidia.com/gpu": "1"}}
	desc := "costs $5, ${not a variable}"
	live.Pools["gpu-tasks"].Description = &desc
	no := "no"
	live.Queues[state.QueueKey("gpu-tasks", "urgent")].Description = &no
	yes := true
	live.Queues[state.QueueKey("gpu-tasks", "urgent")].Paused = &yes
	live.AddPool(&state.Pool{Name: "local", Type: "process", BaseJobTemplate: mustDefault(t, "process")})
	live.AddPool(&state.Pool{Name: "fresh", Type: "kubernetes", BaseJobTemplate: map[string]any{}})

	out, e := export(t, live, nil, Options{Pools: []string{"gpu-tasks", "local"}})
	pools := map[string]config.Pool{}
	for _, p := range e.File.Pools {
		pools[p.Name] = p
	}
	if p := pools["gpu-tasks"]; p.BaseJobTemplate == nil || p.JobTemplate != nil {
		t.Errorf("an edited manifest was not kept raw")
	}
	if p := pools["local"]; p.BaseJobTemplate != nil || p.JobTemplate != nil {
		t.Errorf("the process default was not left to the embedded default")
	}
	for _, want := range []string{`description: costs $$5, $${not a variable}`, `busybox:$${TAG}`, `description: "no"`, "paused: true"} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %q", want)
		}
	}

	_, e = export(t, live, nil, Options{Pools: []string{"fresh"}})
	if len(e.Warnings) != 1 || !strings.Contains(e.Warnings[0], "empty base job template") || !e.Inexact["fresh"] {
		t.Errorf("warnings %v", e.Warnings)
	}

	if _, err := Build(context.Background(), live, nil, Options{Pools: []string{"gpu-tasks", "nope"}}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown pool: %v", err)
	}
}

func TestExportMissingObjectsAreExternalWithAWarning(t *testing.T) {
	live, kube := exampleServers(t)
	for k := range kube.objs {
		if k.Kind == "Secret" || k.Kind == "ServiceAccount" {
			delete(kube.objs, k)
		}
	}
	_, e := export(t, live, kube, Options{Pools: []string{"gbif-automations"}, Kubernetes: true})
	if len(e.Warnings) != 2 {
		t.Errorf("warnings %v, want the Secret and the service account", e.Warnings)
	}
	if len(e.File.Kubernetes.Resources) != 0 {
		t.Errorf("resources %v: no service account, so no RBAC", e.File.Kubernetes.Resources)
	}
}

// A raw template that keeps the default's {{ cpu_limit }}-style resource
// placeholders must validate too.
func TestExportRawTemplateWithResourcePlaceholders(t *testing.T) {
	tmpl := mustDefault(t, "kubernetes")
	tmpl["variables"].(map[string]any)["properties"].(map[string]any)["image"].(map[string]any)["description"] = "ours"
	live := state.New()
	live.AddPool(&state.Pool{Name: "raw", Type: "kubernetes", BaseJobTemplate: tmpl})
	e, err := Build(context.Background(), live, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, e, "pools.yaml"); err != nil {
		t.Fatal(err)
	}
	check, err := Verify(buf.Bytes(), "pools.yaml", live, e)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range check.Problems {
		t.Error(p)
	}
}

func mustDefault(t *testing.T, typ string) map[string]any {
	t.Helper()
	d, ok, err := jobtemplate.Default(typ)
	if err != nil || !ok {
		t.Fatal(err)
	}
	return d
}

func TestReferences(t *testing.T) {
	tmpl := mustDefault(t, "kubernetes")
	vars := tmpl["variables"].(map[string]any)["properties"].(map[string]any)
	vars["namespace"].(map[string]any)["default"] = "jobs"
	vars["service_account_name"].(map[string]any)["default"] = "runner"
	jc := tmpl["job_configuration"].(map[string]any)
	pod := jc["job_manifest"].(map[string]any)["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	c := pod["containers"].([]any)[0].(map[string]any)
	c["env"] = []any{
		map[string]any{"name": "A", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "creds", "key": "token"}}},
		map[string]any{"name": "B", "valueFrom": map[string]any{"configMapKeyRef": map[string]any{"name": "settings", "key": "b", "optional": true}}},
	}
	c["envFrom"] = []any{map[string]any{"configMapRef": map[string]any{"name": "more"}}}
	pod["volumes"] = []any{
		map[string]any{"name": "d", "persistentVolumeClaim": map[string]any{"claimName": "data"}},
		map[string]any{"name": "s", "secret": map[string]any{"secretName": "{{ image }}-certs"}},
	}
	pod["imagePullSecrets"] = []any{map[string]any{"name": "registry"}}
	var got []string
	for _, r := range references("p", tmpl) {
		got = append(got, fmt.Sprintf("%s %s/%s %s", r.kind, r.ns, r.name, r.dataKey))
	}
	want := []string{
		"ConfigMap jobs/more ", "Namespace /jobs ", "PersistentVolumeClaim jobs/data ",
		"Secret jobs/creds token", "Secret jobs/registry ", "ServiceAccount jobs/runner ",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("references:\n got %q\nwant %q", got, want)
	}
}

// A pool made by hand with a Secret reference but no null guard for it
// exports as overrides, with a warning that the first sync adds the guard.
func TestExportWarnsOfAnUnguardedSecretReference(t *testing.T) {
	live, kube := exampleServers(t)
	lp := live.Pools["gbif-automations"]
	vars := lp.BaseJobTemplate["variables"].(map[string]any)["properties"].(map[string]any)
	def := vars["env"].(map[string]any)["default"].(map[string]any)
	if v, has := def["PREFECT_API_AUTH_STRING"]; !has || v != nil {
		t.Fatalf("the synced template has no guard: %v", def)
	}
	delete(def, "PREFECT_API_AUTH_STRING")
	out, e := export(t, live, kube, Options{Set: "gbif", Kubernetes: true})
	var warned []string
	for _, w := range e.Warnings {
		if strings.Contains(w, "PREFECT_API_AUTH_STRING") {
			warned = append(warned, w)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], `"gbif-automations"`) || !strings.Contains(warned[0], "first sync adds") {
		t.Errorf("warnings %q, want one for gbif-automations", e.Warnings)
	}
	if !strings.Contains(out, "name: gbif-automations\n    type: kubernetes\n") || strings.Contains(out, "baseJobTemplate") {
		t.Errorf("not exported as overrides:\n%s", out)
	}
}

// The kubernetes section lists objects in the order sync applies them:
// by plan.Rank, whatever order they were read in.
func TestSectionIsInApplyOrder(t *testing.T) {
	k := newKubeSection()
	for i := len(state.Kinds) - 1; i >= 0; i-- {
		kd := state.Kinds[i]
		o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": kd.APIVersion(), "kind": kd.Kind}}
		o.SetName("x")
		if kd.Scope == state.Namespaced {
			o.SetNamespace("ns")
		}
		k.resource(o)
	}
	out := k.section(map[string]string{})
	prev := -1
	var kinds []string
	for _, r := range out.Resources {
		kind, _ := r["kind"].(string)
		key := state.Key{System: state.Kubernetes, Kind: kind, Name: "x"}
		rank := plan.Rank(plan.Change{Key: key, Action: plan.Create})
		if rank < prev {
			t.Errorf("%s (rank %d) after rank %d", kind, rank, prev)
		}
		prev = rank
		kinds = append(kinds, kind)
	}
	if len(kinds) != len(state.Kinds) {
		t.Errorf("section lists %v, want every kind of state.Kinds", kinds)
	}
}
