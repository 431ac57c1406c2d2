package jobtemplate

import (
	"strings"
	"testing"
)

func TestCheckJobVariables(t *testing.T) {
	tmpl := map[string]any{"variables": map[string]any{
		"type":     "object",
		"required": []any{"image", "team"},
		"properties": map[string]any{
			"image":     map[string]any{"type": "string", "default": "prefecthq/prefect:3"},
			"team":      map[string]any{"type": "string"},
			"gpu_count": map[string]any{"type": "integer", "minimum": 0, "maximum": 8},
			"tier":      map[string]any{"type": "string", "enum": []any{"small", "large"}},
			"token":     map[string]any{"type": "string", "pattern": "^tk-"},
		},
	}}
	for name, tc := range map[string]struct {
		vars map[string]any
		want []string
	}{
		"compatible": {vars: map[string]any{"team": "data", "gpu_count": 2, "tier": "large"}},
		"dropped": {vars: map[string]any{"team": "data", "memory": "4Gi"},
			want: []string{`variable "memory": the template no longer declares it, so workers drop it`}},
		"required": {vars: map[string]any{},
			want: []string{`variable "team": required, with no default, and the deployment does not set it`}},
		"retyped": {vars: map[string]any{"team": "data", "gpu_count": "two"},
			want: []string{`variable "gpu_count": the deployment's value is string, but the template wants integer`}},
		"range and enum": {vars: map[string]any{"team": "data", "gpu_count": 9, "tier": "medium"},
			want: []string{`variable "gpu_count": the deployment's value fails the template's "maximum"`, `variable "tier": the deployment's value fails the template's "enum"`}},
		"a value is never repeated": {vars: map[string]any{"team": "data", "token": "s3cret-not-tk"},
			want: []string{`variable "token": the deployment's value fails the template's "pattern"`}},
	} {
		t.Run(name, func(t *testing.T) {
			got := CheckJobVariables(tmpl, tc.vars)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if strings.Contains(strings.Join(got, " "), "s3cret") {
				t.Error("a value shows in the problems")
			}
		})
	}
}

// The embedded Kubernetes template's variables $ref their definitions, and
// its image is "anyOf string or null".
func TestCheckJobVariablesOnTheKubernetesDefault(t *testing.T) {
	def, _, err := Default("kubernetes")
	if err != nil {
		t.Fatal(err)
	}
	got := CheckJobVariables(def, map[string]any{"image": 5, "namespace": "flows"})
	want := `variable "image": the deployment's value is number, but the template wants string or null`
	if strings.Join(got, "\n") != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
