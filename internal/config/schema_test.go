package config

import (
	"strings"
	"testing"
)

func TestSchemaProblems(t *testing.T) {
	tests := map[string]struct {
		src   string
		wants []want
	}{
		"unknown top-level field without a close match": {
			src:   validPool + "workers: 3\n",
			wants: []want{{"4:1", "workers", `unknown field "workers"`, "allowed here: $schema, kubernetes, pools, prefect, set"}},
		},
		"unknown field with a suggestion": {
			src:   validPool + "    queus: []\n",
			wants: []want{{"4:5", "pools[0].queus", `unknown field "queus"`, `did you mean "queues"?`}},
		},
		"unknown field differing in case": {
			src:   validPool + "    queues:\n      - name: q\n        Priority: 2\n",
			wants: []want{{"6:9", "pools[0].queues[0].Priority", `unknown field "Priority"`, `did you mean "priority"?`}},
		},
		"unknown field in a Kubernetes type": {
			src:   validPool + "    jobTemplate:\n      tolerations:\n        - {key: a, operatr: Exists}\n",
			wants: []want{{"6:20", "pools[0].jobTemplate.tolerations[0].operatr", `unknown field "operatr"`, `did you mean "operator"?`}},
		},
		"unknown field in a manifest": {
			src: "kubernetes:\n  resources:\n    - apiVersion: v1\n      kind: ServiceAccount\n      metdata: {name: x}\n",
			wants: []want{
				{"3:7", "kubernetes.resources[0]", `missing required field "metadata"`, ""},
				{"5:7", "kubernetes.resources[0].metdata", `unknown field "metdata"`, `did you mean "metadata"?`},
			},
		},
		"missing pool name": {
			src:   "pools:\n  - type: kubernetes\n",
			wants: []want{{"2:5", "pools[0]", `missing required field "name"`, ""}},
		},
		"missing pool type": {
			src:   "pools:\n  - name: a\n",
			wants: []want{{"2:5", "pools[0]", `missing required field "type"`, ""}},
		},
		"missing queue name": {
			src:   validPool + "    queues:\n      - priority: 1\n",
			wants: []want{{"5:9", "pools[0].queues[0]", `missing required field "name"`, ""}},
		},
		"missing secret keys": {
			src:   "kubernetes:\n  namespace: default\n  secrets:\n    - name: s\n",
			wants: []want{{"4:7", "kubernetes.secrets[0]", `missing required field "keys"`, ""}},
		},
		"missing template variables": {
			src:   "pools:\n  - name: a\n    type: docker\n    baseJobTemplate: {job_configuration: {}}\n",
			wants: []want{{"4:5", "pools[0].baseJobTemplate", `missing required field "variables"`, ""}},
		},
		"empty pool name": {
			src:   "pools:\n  - name: \"\"\n    type: kubernetes\n",
			wants: []want{{"2:11", "pools[0].name", "must not be empty", ""}},
		},
		"set too long": {
			src:   "set: " + strings.Repeat("a", 64) + "\n",
			wants: []want{{"1:6", "set", "must be at most 63 characters long, got 64", ""}},
		},
		"set with capitals": {
			src:   "set: Team_A\n",
			wants: []want{{"1:6", "set", `"Team_A" does not match the pattern ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, "use lowercase letters, digits and '-'"}},
		},
		"pools without a value": {
			src:   "pools:\n",
			wants: []want{{"1:7", "pools", "expected array, got null", ""}},
		},
		"string instead of a list": {
			src:   "pools: gpu\n",
			wants: []want{{"1:8", "pools", "expected array, got string", ""}},
		},
		"string instead of an integer": {
			src:   validPool + "    queues:\n      - name: q\n        priority: high\n",
			wants: []want{{"6:19", "pools[0].queues[0].priority", "expected integer, got string", ""}},
		},
		"quoted number": {
			src:   validPool + "    concurrencyLimit: \"4\"\n",
			wants: []want{{"4:23", "pools[0].concurrencyLimit", "expected integer, got string", ""}},
		},
		"fraction instead of an integer": {
			src:   validPool + "    concurrencyLimit: 1.5\n",
			wants: []want{{"4:23", "pools[0].concurrencyLimit", "expected integer, got number", ""}},
		},
		"string instead of a boolean": {
			src:   validPool + "    paused: \"yes\"\n",
			wants: []want{{"4:13", "pools[0].paused", "expected boolean, got string", ""}},
		},
		"mapping instead of a list": {
			src:   validPool + "    jobTemplate:\n      env: {A: b}\n",
			wants: []want{{"5:12", "pools[0].jobTemplate.env", "expected array, got object", ""}},
		},
		"number label value": {
			src:   validPool + "    jobTemplate:\n      labels: {team: 7}\n",
			wants: []want{{"5:22", "pools[0].jobTemplate.labels.team", "expected string, got number", ""}},
		},
		"negative limit": {
			src:   validPool + "    concurrencyLimit: -1\n",
			wants: []want{{"4:23", "pools[0].concurrencyLimit", "must be at least 0, got -1", ""}},
		},
		"zero priority": {
			src:   validPool + "    queues:\n      - {name: q, priority: 0}\n",
			wants: []want{{"5:29", "pools[0].queues[0].priority", "must be at least 1, got 0", ""}},
		},
		"enum with a suggestion": {
			src:   validPool + "    jobTemplate:\n      imagePullPolicy: always\n",
			wants: []want{{"5:24", "pools[0].jobTemplate.imagePullPolicy", `"always" is not one of IfNotPresent, Always, Never`, `did you mean "Always"?`}},
		},
		"enum without a suggestion": {
			src:   "kubernetes:\n  resources:\n    - {apiVersion: apps/v1, kind: Deployment, metadata: {name: x}}\n",
			wants: []want{{"3:35", "kubernetes.resources[0].kind", `"Deployment" is not one of Namespace, ResourceQuota, LimitRange, ServiceAccount, Role, ClusterRole, RoleBinding, ClusterRoleBinding, PersistentVolumeClaim, ConfigMap`, ""}},
		},
		"wrong apiVersion for the kind": {
			src:   "kubernetes:\n  resources:\n    - {apiVersion: v1, kind: ClusterRole, metadata: {name: x}}\n",
			wants: []want{{"3:20", "kubernetes.resources[0].apiVersion", `expected "rbac.authorization.k8s.io/v1", got "v1"`, ""}},
		},
		"external kind in lowercase": {
			src:   "kubernetes:\n  external:\n    - {kind: secret, name: s, namespace: default}\n",
			wants: []want{{"3:14", "kubernetes.external[0].kind", `"secret" is not one of Namespace, ServiceAccount, Secret, PersistentVolumeClaim, ConfigMap`, `did you mean "Secret"?`}},
		},
		"quantity that is not one": {
			src:   validPool + "    jobTemplate:\n      resources:\n        requests: {memory: 1 GB}\n",
			wants: []want{{"6:28", "pools[0].jobTemplate.resources.requests.memory", `"1 GB" is not a quantity; write quantities like 500m, 2, 1Gi or 512Mi`, ""}},
		},
		"quantity of the wrong type": {
			src:   validPool + "    jobTemplate:\n      resources:\n        limits: {cpu: [1]}\n",
			wants: []want{{"6:23", "pools[0].jobTemplate.resources.limits.cpu", "expected string or number, got array", ""}},
		},
		"invalid environment variable name": {
			src:   "kubernetes:\n  namespace: default\n  secrets:\n    - name: s\n      keys:\n        k: {fromEnv: 1BAD}\n",
			wants: []want{{"6:22", "kubernetes.secrets[0].keys.k.fromEnv", `"1BAD" does not match the pattern ^[A-Za-z_][A-Za-z0-9_]*$`, "an environment variable name"}},
		},
		"empty file name": {
			src:   "kubernetes:\n  namespace: default\n  secrets:\n    - name: s\n      keys:\n        k: {fromFile: \"\"}\n",
			wants: []want{{"6:23", "kubernetes.secrets[0].keys.k.fromFile", "must not be empty", ""}},
		},
		"relative Prefect URL": {
			src:   "prefect:\n  url: localhost\n",
			wants: []want{{"2:8", "prefect.url", `"localhost" is not a valid uri`, ""}},
		},
		"several problems, sorted": {
			src: "pools:\n  - name: a\n    type: kubernetes\n    paused: 1\n  - name: b\n",
			wants: []want{
				{"4:13", "pools[0].paused", "expected boolean, got number", ""},
				{"5:5", "pools[1]", `missing required field "type"`, ""},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, probs := validateSource("pools.yaml", []byte(tc.src), noEnv)
			checkProblems(t, probs, tc.wants)
		})
	}
}

func TestSuggest(t *testing.T) {
	allowed := []string{"description", "name", "priority"}
	tests := map[string]struct{ got, want string }{
		"typo":           {"priorty", `did you mean "priority"?`},
		"case":           {"Name", `did you mean "name"?`},
		"far":            {"workers", "allowed here: description, name, priority"},
		"nothing":        {"", "allowed here: description, name, priority"},
		"no choices":     {"x", ""},
		"short typo":     {"nme", `did you mean "name"?`},
		"transposed":     {"descirption", `did you mean "description"?`},
		"long and far":   {"concurrency", "allowed here: description, name, priority"},
		"shortened":      {"prio", `did you mean "priority"?`},
		"short prefix":   {"pri", "allowed here: description, name, priority"},
		"misspelt start": {"descr", `did you mean "description"?`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a := allowed
			if name == "no choices" {
				a = nil
			}
			if got := suggest(tc.got, a); got != tc.want {
				t.Errorf("suggest(%q) = %q, want %q", tc.got, got, tc.want)
			}
		})
	}
}
