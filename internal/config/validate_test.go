package config

import (
	"testing"
)

func TestValidateExample(t *testing.T) {
	doc, probs := LoadFile("../../examples/pools.yaml", Options{LookupEnv: noEnv})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	f, probs := doc.Validate()
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if f.Set != "gbif" || len(f.Pools) != 4 || len(f.Kubernetes.Resources) != 5 || len(f.Kubernetes.Secrets) != 1 {
		t.Errorf("set %q, %d pools, %d resources, %d secrets", f.Set, len(f.Pools), len(f.Kubernetes.Resources), len(f.Kubernetes.Secrets))
	}
	// memory-intensive merges the cpu-intensive template and overrides its resources.
	mem := f.Pools[2].JobTemplate
	if mem.ServiceAccountName != "prefect-worker" || mem.Resources.Limits.Memory().String() != "16Gi" {
		t.Errorf("merged template: sa %q, memory limit %s", mem.ServiceAccountName, mem.Resources.Limits.Memory())
	}
}

func TestValidateSemantics(t *testing.T) {
	tests := map[string]struct {
		src   string
		wants []want
	}{
		"native Secret manifest": {
			src: yml(`
				kubernetes:
				  namespace: default
				  resources:
				    - apiVersion: v1
				      kind: Secret
				      metadata: {name: prefect-auth}
				      stringData: {auth-string: "admin:hunter2"}
			`),
			wants: []want{{"5:13", "kubernetes.resources[0]", "a Secret cannot be declared as a manifest: its values would sit in this file",
				"declare it under kubernetes.secrets, with each value read at sync time:\n  secrets:\n    - name: prefect-auth\n      keys:\n        KEY: {fromEnv: ENV_VAR}   # or {fromFile: path}"}},
		},
		"native Secret manifest without a name": {
			src:   "kubernetes:\n  resources:\n    - {kind: Secret, data: {a: b}}\n",
			wants: []want{{"3:14", "kubernetes.resources[0]", "a Secret cannot be declared as a manifest", "    - name: my-secret\n"}},
		},
		"native Secret next to other problems": {
			src: "kubernetes:\n  resources:\n    - {kind: Secret, data: {a: b}}\npools:\n  - name: a\n",
			wants: []want{
				{"3:14", "kubernetes.resources[0]", "a Secret cannot be declared as a manifest", ""},
				{"5:5", "pools[0]", `missing required field "type"`, ""},
			},
		},
		"quantity the schema allows but Kubernetes does not": {
			src:   validPool + "    jobTemplate:\n      resources:\n        limits: {cpu: 1.5e3.5}\n",
			wants: []want{{"6:23", "pools[0].jobTemplate.resources.limits.cpu", `"1.5e3.5" is not a quantity`, "write quantities like 500m, 2, 1Gi or 512Mi"}},
		},
		"quantity in a claim": {
			src: yml(`
				kubernetes:
				  namespace: default
				  resources:
				    - apiVersion: v1
				      kind: PersistentVolumeClaim
				      metadata: {name: data}
				      spec: {resources: {requests: {storage: 1.0e1.0Gi}}}
			`),
			wants: []want{{"7:46", "kubernetes.resources[0].spec.resources.requests.storage", "is not a quantity", ""}},
		},
		"numeric quantities": {
			src: validPool + "    jobTemplate:\n      resources:\n        limits: {cpu: 2, memory: 1e9, nvidia.com/gpu: 1}\n        requests: {cpu: 0.5}\n",
		},
		"number too large for its field": {
			src:   validPool + "    concurrencyLimit: 100000000000000000000\n",
			wants: []want{{"4:23", "pools[0].concurrencyLimit", "100000000000000000000 is too large; the largest allowed is 9223372036854775807", ""}},
		},
		"largest number": {
			src: validPool + "    concurrencyLimit: 9223372036854775807\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, probs := validateSource("pools.yaml", []byte(tc.src), noEnv)
			checkProblems(t, probs, tc.wants)
		})
	}
}

func TestValidateSet(t *testing.T) {
	tests := map[string]struct {
		name, src, want string
	}{
		"explicit":         {"pools.yaml", "set: team-a\n" + validPool, "team-a"},
		"from file name":   {"staging/gpu-pools.yaml", validPool, "gpu-pools"},
		"from odd name":    {"GPU Pools (v2).yml", validPool, "gpu-pools-v2"},
		"from empty name":  {"", validPool, "default"},
		"from dot file":    {".yaml", validPool, "default"},
		"without pools":    {"x.yaml", "kubernetes: {}\n", "x"},
		"empty pool list":  {"x.yaml", "pools: []\n", "x"},
		"schema reference": {"x.yaml", "$schema: ../schema/pools.schema.json\n", "x"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, probs := validateSource(tc.name, []byte(tc.src), noEnv)
			if len(probs) > 0 {
				t.Fatal(probs)
			}
			if f.Set != tc.want {
				t.Errorf("Set = %q, want %q", f.Set, tc.want)
			}
		})
	}
}

func TestDefaultSet(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"plain":            {"pools.yaml", "pools"},
		"path":             {"deploy/prod/pools.yaml", "pools"},
		"capitals":         {"GPU.yaml", "gpu"},
		"separators":       {"gpu__pools..v2.yaml", "gpu-pools-v2"},
		"leading symbols":  {"_pools.yaml", "pools"},
		"trailing symbols": {"pools_.yaml", "pools"},
		"non-ASCII":        {"blåbær.yaml", "bl-b-r"},
		"only symbols":     {"___.yaml", "default"},
		"no extension":     {"pools", "pools"},
		"empty":            {"", "default"},
		"long":             {"a123456789-123456789-123456789-123456789-123456789-123456789-1234.yaml", "a123456789-123456789-123456789-123456789-123456789-123456789-12"},
		"cut at a dash":    {"a12345678901234567890123456789012345678901234567890123456789012-3.yaml", "a12345678901234567890123456789012345678901234567890123456789012"},
		"cut before dash":  {"a1234567890123456789012345678901234567890123456789012345678901-3.yaml", "a1234567890123456789012345678901234567890123456789012345678901"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := DefaultSet(tc.in)
			if got != tc.want {
				t.Errorf("DefaultSet(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if len(got) > 63 {
				t.Errorf("DefaultSet(%q) is %d long", tc.in, len(got))
			}
		})
	}
}

func TestValidateReturnsNoFileOnProblems(t *testing.T) {
	f, probs := validateSource("pools.yaml", []byte("pools:\n  - name: a/b\n    type: kubernetes\n"), noEnv)
	if f != nil || len(probs) != 1 {
		t.Fatalf("f = %v, probs = %v", f, probs)
	}
}

func TestLookupEnvIsInjected(t *testing.T) {
	src := "pools:\n  - name: ${POOL_NAME}\n    type: kubernetes\n"
	f, probs := validateSource("pools.yaml", []byte(src), env(map[string]string{"POOL_NAME": "gpu"}))
	if len(probs) > 0 || f.Pools[0].Name != "gpu" {
		t.Fatalf("f = %+v, probs = %v", f, probs)
	}
}
