package config

import (
	"testing"
)

// quotaBase declares a namespace with a ResourceQuota and a LimitRange in
// it; each case appends lines.
var quotaBase = yml(`
	kubernetes:
	  namespace: jobs
	  resources:
	    - {apiVersion: v1, kind: Namespace, metadata: {name: jobs}}
	    - apiVersion: v1
	      kind: ResourceQuota
	      metadata: {name: compute}
	      spec:
	        hard: {requests.cpu: "4", limits.memory: 16Gi, pods: 10}
	    - apiVersion: v1
	      kind: LimitRange
	      metadata: {name: defaults}
	      spec:
	        limits:
	          - type: Container
	            default: {cpu: 500m, memory: 1Gi}
	            defaultRequest: {cpu: 250m, memory: 512Mi}
`)

// The kinds of state.Kinds are accepted by the schema and the checks,
// each with its scope: a ResourceQuota and a LimitRange are namespaced, so
// they need a namespace the file knows.
func TestQuotaAndLimitRange(t *testing.T) {
	tests := map[string]struct {
		src   string
		wants []want
	}{
		"declared in a declared namespace": {src: quotaBase},
		"in an undeclared namespace": {
			src:   quotaBase + "    - {apiVersion: v1, kind: ResourceQuota, metadata: {name: q, namespace: batch}, spec: {hard: {pods: 1}}}\n",
			wants: []want{{"18:7", "kubernetes.resources[3]", `ResourceQuota "q" lives in namespace "batch", but Namespace "batch" is not declared in this file`, "kubernetes.external"}},
		},
		"declared twice": {
			src:   quotaBase + "    - {apiVersion: v1, kind: LimitRange, metadata: {name: defaults, namespace: jobs}, spec: {limits: []}}\n",
			wants: []want{{"18:7", "kubernetes.resources[3]", `LimitRange "defaults" in namespace "jobs" is declared twice (also at kubernetes.resources[2])`, ""}},
		},
		"a hard limit that is not a quantity": {
			src:   quotaBase + "    - {apiVersion: v1, kind: ResourceQuota, metadata: {name: q}, spec: {hard: {pods: many}}}\n",
			wants: []want{{"18:86", "kubernetes.resources[3].spec.hard.pods", `"many" is not a quantity`, ""}},
		},
		"a limit range without limits": {
			src:   quotaBase + "    - {apiVersion: v1, kind: LimitRange, metadata: {name: l}, spec: {}}\n",
			wants: []want{{"18:63", "kubernetes.resources[3].spec", `missing required field "limits"`, ""}},
		},
		"wrong apiVersion": {
			src:   quotaBase + "    - {apiVersion: apps/v1, kind: ResourceQuota, metadata: {name: q}}\n",
			wants: []want{{"18:20", "kubernetes.resources[3].apiVersion", `expected "v1", got "apps/v1"`, ""}},
		},
		"a quota is not an external kind": {
			src:   quotaBase + "  external:\n    - {kind: ResourceQuota, name: other}\n",
			wants: []want{{"19:14", "kubernetes.external[0].kind", `"ResourceQuota" is not one of Namespace, ServiceAccount, Secret, PersistentVolumeClaim, ConfigMap`, ""}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, probs := validateSource("pools.yaml", []byte(tc.src), noEnv)
			checkProblems(t, probs, tc.wants)
		})
	}
}

// A quota and a limit range land in kubernetes.namespace when they name
// no namespace of their own.
func TestQuotaNamespace(t *testing.T) {
	f, probs := validateSource("pools.yaml", []byte(quotaBase), noEnv)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	for _, r := range f.Kubernetes.Resources[1:] {
		if ns := f.ResourceNamespace(r); ns != "jobs" {
			t.Errorf("%s %s: namespace %q, want jobs", r["kind"], ResourceName(r), ns)
		}
	}
}
