package cli

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

const withConfigMap = `set: team
kubernetes:
  namespace: prefect
  resources:
    - apiVersion: v1
      kind: Namespace
      metadata:
        name: prefect
    - apiVersion: v1
      kind: ConfigMap
      metadata:
        name: cm1
      data:
        good: x
pools:
  - name: cpu
    type: process
`

// New objects are dry-run where the server can judge them: cluster-scoped
// ones, and those in a namespace that exists; not those in a namespace the
// same sync creates. One the server refuses is a problem on its object:
// diff prints the plan and exits 1, sync changes nothing.
func TestCreatesAreDryRun(t *testing.T) {
	w := newMemWorld(t)
	f := w.write("pools.yaml", withConfigMap)
	ns := state.Key{System: state.Kubernetes, Kind: "Namespace", Name: "prefect"}
	cm := state.Key{System: state.Kubernetes, Kind: "ConfigMap", Namespace: "prefect", Name: "cm1"}

	w.mustRun(2, "diff", "-f", f)
	if got := fmt.Sprint(w.kube.dryRunCreates); got != fmt.Sprint([][]state.Key{{ns}}) {
		t.Errorf("dry-run creates with the namespace to be created: %v, want only the namespace", got)
	}
	// The namespace exists now (someone else's sync made it, say).
	w.kube.objects[ns] = &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "prefect"}}}
	w.kube.dryRunCreates = nil
	w.mustRun(2, "diff", "-f", f)
	if got := fmt.Sprint(w.kube.dryRunCreates); got != fmt.Sprint([][]state.Key{{cm}}) {
		t.Errorf("dry-run creates with the namespace there: %v, want the ConfigMap", got)
	}

	w.kube.refuse = map[state.Key]string{cm: `ConfigMap "cm1" is invalid: data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters`}
	out, errOut := w.mustRun(1, "diff", "-f", f)
	for _, want := range []string{
		`+ ConfigMap "prefect/cm1" will be created`,
		`    ! refused by the API server (dry run): ConfigMap "cm1" is invalid: data[bad key]: Invalid value`,
		"1 refused by the API server (dry run): sync changes nothing until the file is fixed.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, `Error: the API server refuses 1 object in a dry run; sync would change nothing: fix the file
  ConfigMap "prefect/cm1": ConfigMap "cm1" is invalid: data[bad key]`) {
		t.Errorf("diff's error does not name the object and the reason:\n%s", errOut)
	}
	_, errOut = w.mustRun(1, "sync", "-f", f, "--yes")
	if !strings.Contains(errOut, "nothing was changed: fix the file") {
		t.Errorf("sync's error:\n%s", errOut)
	}
	if _, ok := w.kube.objects[cm]; ok || len(w.prefect.pools) != 0 {
		t.Errorf("sync changed something: ConfigMap created %v, %d pools", ok, len(w.prefect.pools))
	}

	// An existing object the server refuses: a problem too, without the
	// fields the file's object would wrongly show against the live one.
	delete(w.kube.refuse, cm)
	w.mustRun(0, "sync", "-f", f, "--yes")
	w.kube.refuse[cm] = `ConfigMap "cm1" is invalid: data: Too long`
	out, _ = w.mustRun(1, "diff", "-f", f, "-o", "json")
	if !strings.Contains(out, `"problem": "ConfigMap \"cm1\" is invalid: data: Too long"`) || !strings.Contains(out, `"problems": 1`) {
		t.Errorf("JSON plan of a refused update:\n%s", out)
	}
}
