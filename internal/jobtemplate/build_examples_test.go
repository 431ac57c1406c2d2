package jobtemplate_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/jobtemplate"
)

func loadExample(t *testing.T) *config.File {
	t.Helper()
	doc, probs := config.LoadFile(filepath.Join("..", "..", "examples", "pools.yaml"),
		config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	f, probs := doc.Validate()
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	return f
}

// get walks a template by keys and list indexes.
func get(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %q: %T is not an object", k, v)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("at [%d]: %T is not a list that long", k, v)
			}
			v = l[k]
		}
	}
	return v
}

func asJSON(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

var podSpec = []any{"job_configuration", "job_manifest", "spec", "template", "spec"}

func containerPath(rest ...any) []any {
	return append(append(append([]any{}, podSpec...), "containers", 0), rest...)
}

func TestExamplePoolsMerge(t *testing.T) {
	f := loadExample(t)
	type want struct {
		defaults  map[string]any // variable → default
		env       string         // the env variable's default, as JSON
		refs      string         // containers[0].env, as JSON
		limits    string         // containers[0].resources.limits, as JSON
		requests  string
		podFields map[string]string // pod spec field → JSON
		mounts    string
	}
	placeholders := `{"cpu":"{{ cpu_limit }}","memory":"{{ memory_limit }}"}`
	requests := `{"cpu":"{{ cpu_request }}","memory":"{{ memory_request }}"}`
	secretRef := `[{"name":"PREFECT_API_AUTH_STRING","valueFrom":{"secretKeyRef":{"key":"auth-string","name":"prefect-basic-auth"}}}]`
	apiURL := `{"PREFECT_API_AUTH_STRING":null,"PREFECT_API_URL":"https://prefect.svc.gbif.no/api"}`
	tests := map[string]want{
		"gbif-automations": {
			defaults: map[string]any{"image": "gbifnorway/prefect-automations:latest", "image_pull_policy": "Always",
				"service_account_name": "prefect-worker", "namespace": "prefect", "cpu_request": "500m", "memory_request": "1Gi",
				"cpu_limit": "2", "memory_limit": "4Gi", "finished_job_ttl": 3600.0},
			env: apiURL, refs: secretRef, limits: placeholders, requests: requests,
			podFields: map[string]string{"volumes": `[{"name":"shared-data","persistentVolumeClaim":{"claimName":"shared-data"}}]`,
				"serviceAccountName": `"{{ service_account_name }}"`, "restartPolicy": `"Never"`},
			mounts: `[{"mountPath":"/data","name":"shared-data"}]`,
		},
		"cpu-intensive": {
			defaults: map[string]any{"image": "gbifnorway/prefect-automations:latest", "namespace": "prefect", "service_account_name": "prefect-worker",
				"cpu_request": "2", "memory_request": "2Gi", "cpu_limit": "4", "memory_limit": "4Gi", "image_pull_policy": "IfNotPresent", "finished_job_ttl": nil},
			env: apiURL, refs: secretRef, limits: placeholders, requests: requests,
			podFields: map[string]string{"volumes": "null", "nodeSelector": "null", "tolerations": "null"},
			mounts:    "null",
		},
		// The YAML merge key takes *heavy's fields and overrides resources.
		"memory-intensive": {
			defaults: map[string]any{"image": "gbifnorway/prefect-automations:latest", "service_account_name": "prefect-worker",
				"cpu_request": "1", "memory_request": "8Gi", "cpu_limit": "2", "memory_limit": "16Gi"},
			env: apiURL, refs: secretRef, limits: placeholders, requests: requests,
		},
		"gpu-tasks": {
			defaults: map[string]any{"cpu_request": "1", "memory_request": "4Gi", "cpu_limit": "4", "memory_limit": "16Gi"},
			env:      apiURL, refs: secretRef,
			// The GPU limit is written literally next to the placeholders.
			limits: `{"cpu":"{{ cpu_limit }}","memory":"{{ memory_limit }}","nvidia.com/gpu":"1"}`, requests: requests,
			podFields: map[string]string{
				"nodeSelector": `{"nvidia.com/gpu.present":"true"}`,
				"tolerations":  `[{"effect":"NoSchedule","key":"nvidia.com/gpu","operator":"Exists"}]`,
			},
		},
	}
	if len(f.Pools) != len(tests) {
		t.Fatalf("the example has %d pools, the test knows %d", len(f.Pools), len(tests))
	}
	for i := range f.Pools {
		p := &f.Pools[i]
		w, ok := tests[p.Name]
		if !ok {
			t.Fatalf("pool %s not covered", p.Name)
		}
		t.Run(p.Name, func(t *testing.T) {
			tmpl, err := jobtemplate.Build(p, f.JobNamespace(p))
			if err != nil {
				t.Fatal(err)
			}
			// Through JSON, as the server stores it.
			var built map[string]any
			if err := json.Unmarshal([]byte(asJSON(tmpl)), &built); err != nil {
				t.Fatal(err)
			}
			props := get(t, built, "variables", "properties").(map[string]any)
			for name, def := range w.defaults {
				prop, ok := props[name].(map[string]any)
				if !ok {
					t.Errorf("no variable %q", name)
					continue
				}
				if !reflect.DeepEqual(prop["default"], def) {
					t.Errorf("variable %s default %#v, want %#v", name, prop["default"], def)
				}
			}
			if got := asJSON(get(t, props, "env", "default")); got != w.env {
				t.Errorf("env default %s, want %s", got, w.env)
			}
			if got := asJSON(get(t, built, containerPath("env")...)); got != w.refs {
				t.Errorf("container env %s, want %s", got, w.refs)
			}
			if got := asJSON(get(t, built, containerPath("resources", "limits")...)); got != w.limits {
				t.Errorf("limits %s, want %s", got, w.limits)
			}
			if got := asJSON(get(t, built, containerPath("resources", "requests")...)); got != w.requests {
				t.Errorf("requests %s, want %s", got, w.requests)
			}
			for field, js := range w.podFields {
				if got := asJSON(get(t, built, append(append([]any{}, podSpec...), field)...)); got != js {
					t.Errorf("pod spec %s = %s, want %s", field, got, js)
				}
			}
			if w.mounts != "" {
				if got := asJSON(get(t, built, containerPath("volumeMounts")...)); got != w.mounts {
					t.Errorf("volumeMounts %s, want %s", got, w.mounts)
				}
			}
			// The worker's own placeholders stay where they were.
			for path, want := range map[string]string{"image": "{{ image }}", "imagePullPolicy": "{{ image_pull_policy }}", "args": "{{ command }}"} {
				if got := get(t, built, containerPath(path)...); got != want {
					t.Errorf("container %s = %v, want %s", path, got, want)
				}
			}
			if got := get(t, built, "job_configuration", "job_manifest", "metadata", "namespace"); got != "{{ namespace }}" {
				t.Errorf("manifest namespace %v", got)
			}
			// No secret value is ever part of a template: only the reference.
			if strings.Contains(asJSON(built), `"value":`) {
				t.Errorf("a literal env value in the manifest: %s", asJSON(get(t, built, containerPath("env")...)))
			}
		})
	}
}

// Every {{ placeholder }} of every template built here names a variable, or
// the server rejects the pool.
func TestBuiltTemplatesPlaceholdersHaveVariables(t *testing.T) {
	f := loadExample(t)
	pools := map[string]*config.Pool{}
	for i := range f.Pools {
		pools[f.Pools[i].Name] = &f.Pools[i]
	}
	q := func(s string) resource.Quantity { return resource.MustParse(s) }
	ttl, backoff, watch, stream := 60, 2, 600, false
	pools["every override"] = &config.Pool{Name: "all", Type: "kubernetes", JobTemplate: &config.JobTemplate{
		Image: "i:1", ImagePullPolicy: "IfNotPresent", Namespace: "jobs", ServiceAccountName: "sa", Command: "python -m flows",
		Env: []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "b"}}}},
		Resources: &corev1.ResourceRequirements{Requests: corev1.ResourceList{"ephemeral-storage": q("1Gi"), "cpu": q("250m")},
			Limits: corev1.ResourceList{"nvidia.com/gpu": q("2"), "memory": q("1Gi")}},
		Labels: map[string]string{"team": "data"}, Annotations: map[string]string{"note": "x"},
		FinishedJobTTL: &ttl, BackoffLimit: &backoff, JobWatchTimeoutSeconds: &watch, PodWatchTimeoutSeconds: &watch, StreamOutput: &stream,
	}}
	pools["no overrides"] = &config.Pool{Name: "bare", Type: "kubernetes"}
	pools["process"] = &config.Pool{Name: "proc", Type: "process"}
	for name, p := range pools {
		t.Run(name, func(t *testing.T) {
			tmpl, err := jobtemplate.Build(p, f.JobNamespace(p))
			if err != nil {
				t.Fatal(err)
			}
			props := get(t, tmpl, "variables", "properties").(map[string]any)
			found := config.Placeholders(tmpl["job_configuration"])
			if len(found) == 0 {
				t.Fatal("no placeholders found")
			}
			for _, ph := range found {
				if _, ok := props[ph]; !ok {
					t.Errorf("{{ %s }} has no variable", ph)
				}
			}
		})
	}
	// The overrides of the last pool land where they belong.
	tmpl, err := jobtemplate.Build(pools["every override"], "jobs")
	if err != nil {
		t.Fatal(err)
	}
	props := get(t, tmpl, "variables", "properties").(map[string]any)
	for v, want := range map[string]string{"command": `"python -m flows"`, "labels": `{"team":"data"}`, "annotations": `{"note":"x"}`,
		"finished_job_ttl": "60", "backoff_limit": "2", "job_watch_timeout_seconds": "600", "pod_watch_timeout_seconds": "600",
		"stream_output": "false", "cpu_request": `"250m"`, "memory_limit": `"1Gi"`, "namespace": `"jobs"`, "env": `{"A":"1","B":null}`} {
		if got := asJSON(get(t, props, v, "default")); got != want {
			t.Errorf("%s default %s, want %s", v, got, want)
		}
	}
	if got := asJSON(get(t, tmpl, containerPath("resources")...)); got != `{"limits":{"cpu":"{{ cpu_limit }}","memory":"{{ memory_limit }}","nvidia.com/gpu":"2"},"requests":{"cpu":"{{ cpu_request }}","ephemeral-storage":"1Gi","memory":"{{ memory_request }}"}}` {
		t.Errorf("resources %s", got)
	}
	if got := asJSON(get(t, tmpl, containerPath("env")...)); got != `[{"name":"B","valueFrom":{"configMapKeyRef":{"key":"b","name":"cm"}}}]` {
		t.Errorf("container env %s", got)
	}
}

// A raw baseJobTemplate is sent exactly as written; a process pool gets the
// process worker's default; each build starts from a fresh default.
func TestRawProcessAndFreshDefaults(t *testing.T) {
	jc := map[string]any{"command": "{{ command }}", "nested": map[string]any{"n": 3, "list": []any{1.5, "x"}}}
	vars := map[string]any{"properties": map[string]any{"command": map[string]any{"type": "string", "default": "run"}}}
	raw := &config.Pool{Name: "raw", Type: "kubernetes", BaseJobTemplate: &config.BaseJobTemplate{JobConfiguration: jc, Variables: vars},
		// Ignored next to a raw template.
		JobTemplate: &config.JobTemplate{Image: "ignored"}}
	got, err := jobtemplate.Build(raw, "prefect")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, map[string]any{"job_configuration": jc, "variables": vars}) {
		t.Errorf("raw template changed: %s", asJSON(got))
	}
	if strings.Contains(asJSON(got), "ignored") || strings.Contains(asJSON(got), "prefect\"") {
		t.Errorf("overrides or namespace merged into a raw template: %s", asJSON(got))
	}

	proc, err := jobtemplate.Build(&config.Pool{Name: "p", Type: "process"}, "prefect")
	if err != nil {
		t.Fatal(err)
	}
	def, ok, err := jobtemplate.Default("process")
	if err != nil || !ok || !reflect.DeepEqual(proc, def) {
		t.Errorf("process pool template differs from the process default (ok %v, err %v)", ok, err)
	}

	a, err := jobtemplate.Build(&config.Pool{Name: "a", Type: "kubernetes", JobTemplate: &config.JobTemplate{Image: "a:1"}}, "ns-a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := jobtemplate.Build(&config.Pool{Name: "b", Type: "kubernetes"}, "ns-b")
	if err != nil {
		t.Fatal(err)
	}
	if img := get(t, b, "variables", "properties", "image", "default"); img == "a:1" {
		t.Error("a previous build's override leaked into the next")
	}
	if get(t, a, "variables", "properties", "namespace", "default") != "ns-a" || get(t, b, "variables", "properties", "namespace", "default") != "ns-b" {
		t.Error("namespace defaults")
	}
	if _, ok, _ := jobtemplate.Default("no-such-worker"); ok {
		t.Error("a default for an unknown worker type")
	}
	if _, err := jobtemplate.Build(&config.Pool{Name: "ecs", Type: "ecs"}, ""); err == nil || !strings.Contains(err.Error(), `"ecs"`) || !strings.Contains(err.Error(), "baseJobTemplate") {
		t.Errorf("unknown type without a template: %v", err)
	}
	kube, _, _ := jobtemplate.Default("kubernetes")
	ks := make([]string, 0)
	for k := range kube {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	if !reflect.DeepEqual(ks, []string{"job_configuration", "variables"}) {
		t.Errorf("default template keys %v", ks)
	}
}
