package jobtemplate

import (
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/config"
)

func examplePools(t *testing.T) *config.File {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	doc, probs := config.LoadFile(filepath.Join(filepath.Dir(here), "..", "..", "examples", "pools.yaml"), config.Options{LookupEnv: func(string) (string, bool) { return "x", true }})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	f, probs := doc.Validate()
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	return f
}

// Every pool of the example round-trips: the overrides read back from its
// built template build the same template again.
func TestOverridesInvertBuild(t *testing.T) {
	f := examplePools(t)
	for i := range f.Pools {
		p := &f.Pools[i]
		t.Run(p.Name, func(t *testing.T) {
			built, err := Build(p, f.JobNamespace(p))
			if err != nil {
				t.Fatal(err)
			}
			jt, ok := Overrides(built)
			if !ok {
				t.Fatalf("no overrides found for the template of %s", p.Name)
			}
			again, err := Build(&config.Pool{Name: p.Name, Type: "kubernetes", JobTemplate: jt}, jt.Namespace)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := normalized(built)
			b, _ := normalized(again)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("rebuilt template differs")
			}
			if jt.Image != p.JobTemplate.Image || jt.ServiceAccountName != p.JobTemplate.ServiceAccountName || jt.Namespace != "prefect" ||
				len(jt.Env) != len(p.JobTemplate.Env) || !reflect.DeepEqual(jt.Tolerations, p.JobTemplate.Tolerations) {
				t.Errorf("overrides = %+v\nwant like %+v", jt, p.JobTemplate)
			}
			for which, list := range map[string][2]int{"requests": {len(jt.Resources.Requests), len(p.JobTemplate.Resources.Requests)}, "limits": {len(jt.Resources.Limits), len(p.JobTemplate.Resources.Limits)}} {
				if list[0] != list[1] {
					t.Errorf("%s: %d resources, want %d", which, list[0], list[1])
				}
			}
		})
	}
}

func TestOverridesOfTheDefault(t *testing.T) {
	def, _, _ := Default("kubernetes")
	jt, ok := Overrides(def)
	if !ok || !IsZero(jt) {
		t.Errorf("default template: overrides %+v, ok %v; want none", jt, ok)
	}
}

func TestOverridesRefuseWhatTheyCannotExpress(t *testing.T) {
	edit := map[string]func(tmpl map[string]any){
		"image written into the manifest": func(tmpl map[string]any) {
			container(tmpl)["image"] = "busybox"
		},
		"cpu in a non-canonical form": func(tmpl map[string]any) {
			variable(tmpl, "cpu_request")["default"] = "0.5"
		},
		"a literal env value in the manifest": func(tmpl map[string]any) {
			container(tmpl)["env"] = []any{map[string]any{"name": "A", "value": "b"}}
		},
		"an extra variable": func(tmpl map[string]any) {
			vars(tmpl)["extra"] = map[string]any{"type": "string"}
		},
		"a changed description": func(tmpl map[string]any) {
			variable(tmpl, "image")["description"] = "ours"
		},
		"a Prefect 2 template": func(tmpl map[string]any) {
			delete(tmpl, "job_configuration")
			tmpl["job"] = map[string]any{}
		},
		"an empty template": func(tmpl map[string]any) {
			clear(tmpl)
		},
	}
	for name, fn := range edit {
		t.Run(name, func(t *testing.T) {
			tmpl, _, _ := Default("kubernetes")
			fn(tmpl)
			if jt, ok := Overrides(tmpl); ok {
				t.Errorf("overrides %+v accepted for a template they do not rebuild", jt)
			}
		})
	}
}

func vars(tmpl map[string]any) map[string]any {
	return tmpl["variables"].(map[string]any)["properties"].(map[string]any)
}

func variable(tmpl map[string]any, name string) map[string]any {
	return vars(tmpl)[name].(map[string]any)
}

func container(tmpl map[string]any) map[string]any {
	t, _ := open(tmpl)
	return t.container
}

// A template written by hand with a Secret reference but without the null
// guard (as the Prefect CLI runbook makes it) still inverts to overrides;
// Unguarded names the reference, and the rebuilt template carries the guard.
func TestOverridesOfAnUnguardedTemplate(t *testing.T) {
	f := examplePools(t)
	p := &f.Pools[0]
	built, err := Build(p, f.JobNamespace(p))
	if err != nil {
		t.Fatal(err)
	}
	if names := Unguarded(built); len(names) != 0 {
		t.Fatalf("a built template is unguarded for %v", names)
	}
	live, _ := normalized(built)
	l, err := open(live)
	if err != nil {
		t.Fatal(err)
	}
	def := l.vars[varEnv].(map[string]any)["default"].(map[string]any)
	if v, has := def["PREFECT_API_AUTH_STRING"]; !has || v != nil {
		t.Fatalf("built env default %v has no null PREFECT_API_AUTH_STRING", def)
	}
	delete(def, "PREFECT_API_AUTH_STRING")
	if got := Unguarded(live); !reflect.DeepEqual(got, []string{"PREFECT_API_AUTH_STRING"}) {
		t.Errorf("Unguarded = %v", got)
	}
	jt, ok := Overrides(live)
	if !ok {
		t.Fatal("an unguarded template gives no overrides")
	}
	if len(jt.Env) != len(p.JobTemplate.Env) {
		t.Errorf("env %v, want %v", jt.Env, p.JobTemplate.Env)
	}
	// Without any plain env value the guard is the default's only entry.
	delete(def, "PREFECT_API_URL")
	if _, ok := Overrides(live); !ok {
		t.Error("a template with only Secret references gives no overrides")
	}
}
