package reconcile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

const declaredPools = `set: team
kubernetes:
  namespace: prefect
  external:
    - {kind: Namespace, name: prefect}
    - {kind: Namespace, name: other}
  resources:
    - apiVersion: v1
      kind: ServiceAccount
      metadata: {name: worker}
    - apiVersion: v1
      kind: ConfigMap
      metadata: {name: settings, namespace: other}
  secrets:
    - name: creds
      keys:
        token: {fromEnv: TOKEN}
pools:
  - name: cpu
    type: kubernetes
  - name: gpu
    type: kubernetes
    queues:
      - {name: default, priority: 1}
      - {name: urgent, priority: 2}
`

func TestDeclared(t *testing.T) {
	name := filepath.Join(t.TempDir(), "pools.yaml")
	if err := os.WriteFile(name, []byte(declaredPools), 0o644); err != nil {
		t.Fatal(err)
	}
	lookup := func(string) (string, bool) { return "x", true }
	doc, f, probs := Load(name, lookup, nil)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	p := &Planned{File: f, Document: doc}
	k8s := func(kind, ns, name string) state.Key {
		return state.Key{System: state.Kubernetes, Kind: kind, Namespace: ns, Name: name}
	}
	tests := map[string]struct {
		key  state.Key
		line int // 0: not declared
	}{
		"pool":                             {state.PoolKey("gpu"), 21},
		"queue":                            {state.QueueKey("gpu", "urgent"), 25},
		"default queue left out":           {state.QueueKey("cpu", "default"), 19},
		"manifest in the file's namespace": {k8s("ServiceAccount", "prefect", "worker"), 8},
		"manifest in its own namespace":    {k8s("ConfigMap", "other", "settings"), 11},
		"manifest in another namespace":    {k8s("ConfigMap", "prefect", "settings"), 0},
		"secret":                           {k8s("Secret", "prefect", "creds"), 15},
		"pool not in the file":             {state.PoolKey("gone"), 0},
		"queue of a pool not in the file":  {state.QueueKey("gone", "default"), 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pos, ok := p.Declared(tc.key)
			if ok != (tc.line > 0) || pos.Line != tc.line {
				t.Errorf("Declared(%s) = %+v, %v; want line %d", tc.key, pos, ok, tc.line)
			}
		})
	}
	if _, ok := (&Planned{}).Declared(state.PoolKey("gpu")); ok {
		t.Error("a plan without its document places an object")
	}
}
