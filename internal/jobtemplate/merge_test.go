package jobtemplate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/config"
)

func example(t *testing.T) *config.File {
	t.Helper()
	doc, probs := config.LoadFile(filepath.Join("..", "..", "examples", "pools.yaml"), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	f, probs := doc.Validate()
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	return f
}

func build(t *testing.T, f *config.File, name string) map[string]any {
	t.Helper()
	for i := range f.Pools {
		if f.Pools[i].Name == name {
			tmpl, err := Build(&f.Pools[i], f.JobNamespace(&f.Pools[i]))
			if err != nil {
				t.Fatal(err)
			}
			return tmpl
		}
	}
	t.Fatalf("no pool %s", name)
	return nil
}

func defaultOf(tmpl map[string]any, name string) any {
	props := tmpl["variables"].(map[string]any)["properties"].(map[string]any)
	v, _ := props[name].(map[string]any)
	return v["default"]
}

func TestMergeExample(t *testing.T) {
	f := example(t)
	gbif := build(t, f, "gbif-automations")
	for name, want := range map[string]any{
		"image": "gbifnorway/prefect-automations:latest", "image_pull_policy": "Always", "namespace": "prefect",
		"service_account_name": "prefect-worker", "cpu_request": "500m", "memory_request": "1Gi",
		"cpu_limit": "2", "memory_limit": "4Gi", "finished_job_ttl": 3600,
	} {
		if got := defaultOf(gbif, name); got != want {
			t.Errorf("variable %s default = %#v, want %#v", name, got, want)
		}
	}
	env, _ := json.Marshal(defaultOf(gbif, "env"))
	if string(env) != `{"PREFECT_API_AUTH_STRING":null,"PREFECT_API_URL":"https://prefect.svc.gbif.no/api"}` {
		t.Errorf("env variable default = %s", env)
	}
	c := container(gbif)
	literal, _ := json.Marshal(c["env"])
	if string(literal) != `[{"name":"PREFECT_API_AUTH_STRING","valueFrom":{"secretKeyRef":{"key":"auth-string","name":"prefect-basic-auth"}}}]` {
		t.Errorf("manifest env = %s", literal)
	}
	if mounts, _ := json.Marshal(c["volumeMounts"]); string(mounts) != `[{"mountPath":"/data","name":"shared-data"}]` {
		t.Errorf("volumeMounts = %s", mounts)
	}

	gpu := build(t, f, "gpu-tasks")
	res, _ := json.Marshal(container(gpu)["resources"])
	if !strings.Contains(string(res), `"nvidia.com/gpu":"1"`) || !strings.Contains(string(res), `"cpu":"{{ cpu_limit }}"`) {
		t.Errorf("gpu resources = %s", res)
	}
	spec, _ := json.Marshal(gpu["job_configuration"])
	for _, want := range []string{`"nodeSelector":{"nvidia.com/gpu.present":"true"}`, `"tolerations":[{"effect":"NoSchedule","key":"nvidia.com/gpu","operator":"Exists"}]`} {
		if !strings.Contains(string(spec), want) {
			t.Errorf("gpu manifest lacks %s", want)
		}
	}
}

// The server rejects a template whose placeholders have no variable.
func TestEveryPlaceholderHasAVariable(t *testing.T) {
	f := example(t)
	for _, p := range f.Pools {
		tmpl := build(t, f, p.Name)
		props := tmpl["variables"].(map[string]any)["properties"].(map[string]any)
		for _, ph := range config.Placeholders(tmpl["job_configuration"]) {
			root, _, _ := strings.Cut(ph, ".")
			if _, ok := props[root]; !ok {
				t.Errorf("%s: placeholder {{ %s }} has no variable", p.Name, ph)
			}
		}
	}
}

func TestRawAndProcessTemplates(t *testing.T) {
	raw := &config.Pool{Name: "raw", Type: "docker", BaseJobTemplate: &config.BaseJobTemplate{
		JobConfiguration: map[string]any{"image": "{{ image }}"}, Variables: map[string]any{"properties": map[string]any{"image": map[string]any{"type": "string"}}}}}
	got, err := Build(raw, "")
	if err != nil {
		t.Fatal(err)
	}
	if js, _ := json.Marshal(got); string(js) != `{"job_configuration":{"image":"{{ image }}"},"variables":{"properties":{"image":{"type":"string"}}}}` {
		t.Errorf("raw template changed: %s", js)
	}
	proc, err := Build(&config.Pool{Name: "p", Type: "process"}, "")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join("defaults", "process.json"))
	var def map[string]any
	_ = json.Unmarshal(want, &def)
	a, _ := json.Marshal(proc)
	b, _ := json.Marshal(def)
	if string(a) != string(b) {
		t.Error("process pool does not get the process default")
	}
	if _, err := Build(&config.Pool{Name: "d", Type: "docker"}, ""); err == nil {
		t.Error("docker without a template built something")
	}
	if v, err := Versions(); err != nil || v["prefect-kubernetes"] == "" {
		t.Errorf("versions = %v, %v", v, err)
	}
}

// A value that has no JSON form is an error naming where it was going,
// not a panic.
func TestUnencodableValueIsAnError(t *testing.T) {
	if _, err := toJSON(make(chan int)); err == nil {
		t.Error("toJSON of a channel: no error")
	}
	m := map[string]any{}
	err := setPath(m, []string{"metadata", "labels"}, map[string]any{"a": func() {}})
	if err == nil || !strings.Contains(err.Error(), "metadata.labels") {
		t.Errorf("setPath: %v", err)
	}
	if len(m) != 0 {
		t.Errorf("setPath wrote %v despite the error", m)
	}
}
