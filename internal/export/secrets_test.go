package export

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// leakyServers hold secret values in plain text where hand-made templates
// put them: the env variable's default and a literal env entry of a
// Kubernetes template, and the env default of a process template.
func leakyServers(t *testing.T) *state.State {
	t.Helper()
	live := state.New()
	k := mustDefault(t, "kubernetes")
	props := k["variables"].(map[string]any)["properties"].(map[string]any)
	props["namespace"].(map[string]any)["default"] = "prefect"
	props["env"].(map[string]any)["default"] = map[string]any{"PREFECT_API_URL": "https://prefect.example/api",
		"PREFECT_API_KEY": "pnu_" + canary, "DB_PASSWORD": "db-" + canary}
	ctr := k["job_configuration"].(map[string]any)["job_manifest"].(map[string]any)["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	ctr["env"] = []any{map[string]any{"name": "API_TOKEN", "value": "tok-" + canary}}
	live.AddPool(&state.Pool{Name: "leaky", Type: "kubernetes", BaseJobTemplate: k})
	p := mustDefault(t, "process")
	p["variables"].(map[string]any)["properties"].(map[string]any)["env"].(map[string]any)["default"] = map[string]any{
		"LOG_LEVEL": "INFO", "S3_SECRET": "s3-" + canary}
	live.AddPool(&state.Pool{Name: "local", Type: "process", BaseJobTemplate: p})
	return live
}

func TestExportKeepsSecretValuesOut(t *testing.T) {
	live := leakyServers(t)
	out, e := export(t, live, nil, Options{})
	if strings.Contains(out, canary) {
		t.Errorf("the export holds a secret value:\n%s", out)
	}
	for _, want := range []string{
		// The Kubernetes pool reads them from a Secret of the file.
		"  - name: leaky-env\n      namespace: prefect\n      keys:\n        API_TOKEN:\n          fromEnv: LEAKY_API_TOKEN\n        DB_PASSWORD:\n          fromEnv: LEAKY_DB_PASSWORD\n        PREFECT_API_KEY:\n          fromEnv: LEAKY_PREFECT_API_KEY",
		"- name: DB_PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: leaky-env\n              key: DB_PASSWORD",
		"- name: PREFECT_API_URL\n          value: https://prefect.example/api",
		// The process pool from ${VAR}, written as a reference.
		"S3_SECRET: ${LOCAL_S3_SECRET}",
		"LOG_LEVEL: INFO",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %q:\n%s", want, out)
		}
	}
	for _, env := range []string{"LEAKY_API_TOKEN", "LEAKY_DB_PASSWORD", "LEAKY_PREFECT_API_KEY", "LOCAL_S3_SECRET"} {
		found := false
		for _, w := range e.Warnings {
			found = found || strings.Contains(w, "set "+env+" to the value before") && strings.Contains(w, "live template still holds the value")
		}
		if !found {
			t.Errorf("no warning names %s: %q", env, e.Warnings)
		}
	}
	if p := e.File.Pools[0]; p.Name != "leaky" || p.JobTemplate == nil {
		t.Errorf("the Kubernetes pool is not exported as overrides: %+v", p)
	}
	check, err := Verify([]byte(out), "pools.yaml", live, e)
	if err != nil {
		t.Fatal(err)
	}
	if len(check.Problems)+len(check.Refused) > 0 || len(check.Changes) != 1 || !strings.Contains(check.Changes[0], `work pool "leaky"`) {
		t.Errorf("check %+v", check)
	}

	// validate: the Secret's variables are read at sync time only; the
	// ${VAR} is needed, as for any file.
	lookup := func(env string) (string, bool) { return "set", env == "LOCAL_S3_SECRET" }
	doc, probs := config.Parse(bytes.NewReader([]byte(out)), "pools.yaml", config.Options{LookupEnv: lookup})
	if len(probs) == 0 {
		_, probs = doc.Validate()
	}
	if len(probs) > 0 {
		t.Errorf("the export does not validate: %v", probs)
	}
}

// A Prefect credential in a template that cannot read a Secret is written
// as ${VAR} too; validate refuses it there, which Verify reports as the
// user's to fix, not as a fault of export.
func TestExportCredentialInAProcessTemplate(t *testing.T) {
	live := state.New()
	p := mustDefault(t, "process")
	p["variables"].(map[string]any)["properties"].(map[string]any)["env"].(map[string]any)["default"] = map[string]any{"PREFECT_API_KEY": "pnu_" + canary}
	live.AddPool(&state.Pool{Name: "local", Type: "process", BaseJobTemplate: p})
	e, err := Build(context.Background(), live, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, e, "pools.yaml"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), canary) || !strings.Contains(buf.String(), "PREFECT_API_KEY: ${LOCAL_PREFECT_API_KEY}") {
		t.Errorf("export:\n%s", buf.String())
	}
	check, err := Verify(buf.Bytes(), "pools.yaml", live, e)
	if err != nil {
		t.Fatal(err)
	}
	if len(check.Problems) > 0 || len(check.Refused) != 1 {
		t.Errorf("check %+v", check)
	}
	if len(e.Warnings) != 1 || !strings.Contains(e.Warnings[0], "take the entry out of the file") {
		t.Errorf("warnings %q", e.Warnings)
	}
	for _, s := range append(append(check.Refused, e.Warnings...), check.Problems...) {
		if strings.Contains(s, canary) {
			t.Errorf("a message holds the value: %s", s)
		}
	}
}

// A raw Kubernetes template (an edited manifest) keeps its form: the
// literal env entry becomes a Secret reference, guarded by a null default.
func TestExportSecretInARawKubernetesTemplate(t *testing.T) {
	live := state.New()
	k := mustDefault(t, "kubernetes")
	props := k["variables"].(map[string]any)["properties"].(map[string]any)
	delete(props["env"].(map[string]any), "default")
	ctr := k["job_configuration"].(map[string]any)["job_manifest"].(map[string]any)["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	ctr["image"] = "edited:1"
	ctr["env"] = []any{map[string]any{"name": "LOG_LEVEL", "value": "INFO"}, map[string]any{"name": "DB_PASSWORD", "value": canary}}
	live.AddPool(&state.Pool{Name: "raw", Type: "kubernetes", BaseJobTemplate: k})
	out, e := export(t, live, nil, Options{})
	if strings.Contains(out, canary) || e.File.Pools[0].BaseJobTemplate == nil {
		t.Errorf("export:\n%s", out)
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{"- name: LOG_LEVEL value: INFO - name: DB_PASSWORD valueFrom: secretKeyRef: key: DB_PASSWORD name: raw-env",
		"default: DB_PASSWORD: null", "- name: raw-env namespace: default keys: DB_PASSWORD: fromEnv: RAW_DB_PASSWORD"} {
		if !strings.Contains(flat, want) {
			t.Errorf("export lacks %q:\n%s", want, out)
		}
	}
	if len(e.Warnings) != 1 || !strings.Contains(e.Warnings[0], "RAW_DB_PASSWORD") {
		t.Errorf("warnings %q", e.Warnings)
	}
}
