package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

func TestAnnotationEscaping(t *testing.T) {
	tests := map[string]struct {
		a    Annotation
		want string
	}{
		"message and no properties": {
			Annotation{Level: LevelNotice, Message: "100% done"},
			"::notice::100%25 done",
		},
		"line breaks and separators in the message": {
			Annotation{Level: LevelError, Message: "a: b, c\r\nd %0A"},
			"::error::a: b, c%0D%0Ad %250A",
		},
		"separators in properties": {
			Annotation{Level: LevelWarning, File: "dir,1/a:b.yaml", Line: 3, Col: 7, Title: "t: 50%, x\ny", Message: "m"},
			"::warning file=dir%2C1/a%3Ab.yaml,line=3,col=7,title=t%3A 50%25%2C x%0Ay::m",
		},
		"no line or column": {
			Annotation{Level: LevelError, File: "pools.yaml", Title: "t", Message: "m"},
			"::error file=pools.yaml,title=t::m",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.a.String(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// annotatedPlan has what diff -o github reports: a blocked delete, a
// risky pause, warnings, a refusal by the API server and a conflict.
func annotatedPlan() *plan.Plan {
	cm := state.Key{System: state.Kubernetes, Kind: "ConfigMap", Namespace: "prefect", Name: "settings"}
	crb := state.Key{System: state.Kubernetes, Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding", Name: "worker"}
	runs := state.RunCounts{Scheduled: 3, Pending: 1}
	return &plan.Plan{Version: plan.FormatVersion, Set: "gbif", Changes: []plan.Change{
		{Key: state.PoolKey("gone"), Action: plan.Delete, Impact: &plan.Impact{Deployments: 2, Names: []string{"etl/nightly", "etl/hourly"},
			Runs: runs, Effect: "the deployments stay, without a work pool", Orphans: true, Blocked: true}},
		{Key: state.QueueKey("gpu", "default"), Action: plan.Update, Impact: &plan.Impact{Deployments: 1, Names: []string{"a/b"}, Effect: "paused"},
			Fields: []plan.FieldChange{{Path: "isPaused", Old: false, New: true, HasOld: true, HasNew: true}}},
		{Key: state.PoolKey("gpu"), Action: plan.Update, Warnings: []string{
			`deployment "etl/nightly": job variable "image" is dropped: 100%, "a,b:c"` + "\nsecond line",
		}, Fields: []plan.FieldChange{{Path: "description", Old: "a", New: "b", HasOld: true, HasNew: true}}},
		{Key: cm, Action: plan.Create, Problem: `ConfigMap "settings" is invalid: data[a:b]: Invalid value: "a:b"`},
		{Key: crb, Action: plan.Update, Conflicts: []state.Conflict{{Manager: "kubectl-edit", Fields: []string{"subjects"}}}},
		{Key: state.PoolKey("fine"), Action: plan.NoOp},
	}}
}

// locateAnnotated declares every object of annotatedPlan but the deleted
// pool, in a file whose name holds a comma and a colon.
func locateAnnotated(k state.Key) (string, config.Pos, bool) {
	lines := map[string]int{`WorkQueue "gpu/default"`: 12, `WorkPool "gpu"`: 10, `ConfigMap "prefect/settings"`: 30, `ClusterRoleBinding "worker"`: 40}
	line, ok := lines[k.String()]
	return "teams/a,b:pools.yaml", config.Pos{Line: line, Col: 5}, ok
}

func TestGitHubGolden(t *testing.T) {
	var b bytes.Buffer
	if err := GitHub(&b, annotatedPlan(), locateAnnotated); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.github", b.String())
	for i, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if !strings.HasPrefix(line, "::") {
			t.Errorf("line %d is not a workflow command: %s", i+1, line)
		}
	}
}

func TestGitHubWithoutChanges(t *testing.T) {
	var b bytes.Buffer
	p := &plan.Plan{Version: plan.FormatVersion, Set: "gbif", Changes: []plan.Change{{Key: state.PoolKey("fine"), Action: plan.NoOp}}}
	if err := GitHub(&b, p, nil); err != nil {
		t.Fatal(err)
	}
	if want := "::notice title=prefect-apply diff::No changes: the live state matches the file.\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

// validateReports have a problem with a hint over two lines, one whose
// message holds every character GitHub escapes, and a warning.
func validateReports() []FileReport {
	file := "teams/a,b:pools.yaml"
	return []FileReport{
		{File: file, Problems: config.Problems{
			{File: file, Pos: config.Pos{Line: 3, Col: 11}, Path: config.Path{"pools", "0", "name"}, Message: "reserved", Hint: "rename it\nor drop it"},
			{File: file, Pos: config.Pos{Line: 7, Col: 1}, Path: config.Path{"pools", "1", "a:b"}, Message: "50% of \"x,y\": bad\r\nvalue"},
		}},
		{File: "ok.yaml", Warnings: config.Problems{
			{File: "ok.yaml", Pos: config.Pos{Line: 2, Col: 3}, Path: config.Path{"pools"}, Message: "unused", Hint: "remove it"},
		}},
	}
}

func TestValidateGolden(t *testing.T) {
	for name, write := range map[string]func(*bytes.Buffer, []FileReport) error{
		"validate.github": func(b *bytes.Buffer, r []FileReport) error { return ValidateGitHub(b, r) },
		"validate.json":   func(b *bytes.Buffer, r []FileReport) error { return ValidateJSON(b, r) },
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := write(&b, validateReports()); err != nil {
				t.Fatal(err)
			}
			golden(t, name, b.String())
		})
	}
}

func TestValidateJSONWithoutFiles(t *testing.T) {
	var b bytes.Buffer
	if err := ValidateJSON(&b, nil); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"version\": 1,\n  \"valid\": true,\n  \"files\": []\n}\n"; b.String() != want {
		t.Errorf("got %q", b.String())
	}
}
