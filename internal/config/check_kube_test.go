package config

import (
	"fmt"
	"strings"
	"testing"
)

// kubeBase declares a namespace, a service account, a Secret, a ConfigMap
// and a PVC, for reference cases; each case appends a pool.
var kubeBase = yml(`
	kubernetes:
	  namespace: jobs
	  resources:
	    - {apiVersion: v1, kind: Namespace, metadata: {name: jobs}}
	    - {apiVersion: v1, kind: ServiceAccount, metadata: {name: worker}}
	    - {apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, data: {mode: fast}, binaryData: {blob: AAAA}}
	    - apiVersion: v1
	      kind: PersistentVolumeClaim
	      metadata: {name: data}
	      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
	  secrets:
	    - name: auth
	      keys:
	        auth-string: {fromEnv: PREFECT_API_AUTH_STRING}
	  external:
	    - {kind: Secret, name: registry, keys: [token]}
	    - {kind: Secret, name: anykey}
	    - {kind: PersistentVolumeClaim, name: shared}
	    - {kind: ServiceAccount, name: ci}
	    - {kind: ConfigMap, name: ext-settings}
	    - {kind: Namespace, name: other}
	pools:
	  - name: a
	    type: kubernetes
	    jobTemplate:
`)

// kubeBaseLines is the number of lines of kubeBase: case lines follow.
var kubeBaseLines = strings.Count(kubeBase, "\n")

func TestCheckKubernetes(t *testing.T) {
	tests := map[string]struct {
		src   string
		wants []want
	}{
		"base is valid": {
			src: kubeBase + "      image: a\n",
		},
		"namespace declared twice": {
			src: yml(`
				kubernetes:
				  resources:
				    - {apiVersion: v1, kind: Namespace, metadata: {name: jobs}}
				    - {apiVersion: v1, kind: Namespace, metadata: {name: jobs}}
			`),
			wants: []want{{"4:7", "kubernetes.resources[1]", `Namespace "jobs" is declared twice (also at kubernetes.resources[0])`, ""}},
		},
		"service account declared twice through the default namespace": {
			src: yml(`
				kubernetes:
				  namespace: default
				  resources:
				    - {apiVersion: v1, kind: ServiceAccount, metadata: {name: w, namespace: default}}
				    - {apiVersion: v1, kind: ServiceAccount, metadata: {name: w}}
			`),
			wants: []want{{"5:7", "kubernetes.resources[1]", `ServiceAccount "w" in namespace "default" is declared twice (also at kubernetes.resources[0])`, ""}},
		},
		"same name in two namespaces or kinds": {
			src: yml(`
				kubernetes:
				  namespace: default
				  resources:
				    - {apiVersion: v1, kind: ServiceAccount, metadata: {name: w}}
				    - {apiVersion: v1, kind: ServiceAccount, metadata: {name: w, namespace: kube-system}}
				    - {apiVersion: v1, kind: ConfigMap, metadata: {name: w}}
			`),
		},
		"secret declared and external": {
			src: yml(`
				kubernetes:
				  namespace: default
				  secrets:
				    - {name: s, keys: {k: {fromEnv: K}}}
				  external:
				    - {kind: Secret, name: s}
			`),
			wants: []want{{"6:7", "kubernetes.external[0]", `Secret "s" in namespace "default" is declared twice (also at kubernetes.secrets[0])`, ""}},
		},
		"invalid default namespace": {
			src:   "kubernetes:\n  namespace: Jobs\n",
			wants: []want{{"2:14", "kubernetes.namespace", `"Jobs" is not a valid name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'`, ""}},
		},
		"namespace name with a dot": {
			src:   "kubernetes:\n  resources:\n    - {apiVersion: v1, kind: Namespace, metadata: {name: team.jobs}}\n",
			wants: []want{{"3:58", "kubernetes.resources[0].metadata.name", `"team.jobs" is not a valid name: must not contain dots`, ""}},
		},
		"service account name with a dot": {
			src: "kubernetes:\n  namespace: default\n  resources:\n    - {apiVersion: v1, kind: ServiceAccount, metadata: {name: team.worker}}\n",
		},
		"invalid service account name": {
			src:   "kubernetes:\n  namespace: default\n  resources:\n    - {apiVersion: v1, kind: ServiceAccount, metadata: {name: Worker_1}}\n",
			wants: []want{{"4:63", "kubernetes.resources[0].metadata.name", `"Worker_1" is not a valid name: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`, ""}},
		},
		"name too long": {
			src:   "kubernetes:\n  namespace: default\n  resources:\n    - {apiVersion: v1, kind: ServiceAccount, metadata: {name: " + strings.Repeat("a", 254) + "}}\n",
			wants: []want{{"4:63", "kubernetes.resources[0].metadata.name", "must be no more than 253 characters", ""}},
		},
		"invalid metadata namespace": {
			src: "kubernetes:\n  resources:\n    - {apiVersion: v1, kind: ServiceAccount, metadata: {name: w, namespace: -x}}\n",
			wants: []want{
				{"3:7", "kubernetes.resources[0]", `ServiceAccount "w" lives in namespace "-x", but Namespace "-x" is not declared in this file`, "kubernetes.external"},
				{"3:77", "kubernetes.resources[0].metadata.namespace", `"-x" is not a valid name: a lowercase RFC 1123 label`, ""},
			},
		},
		"invalid secret name": {
			src:   "kubernetes:\n  namespace: default\n  secrets:\n    - {name: Auth, keys: {k: {fromEnv: K}}}\n",
			wants: []want{{"4:14", "kubernetes.secrets[0].name", `"Auth" is not a valid name: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')`, ""}},
		},
		"cluster-scoped kind with a namespace": {
			src:   "kubernetes:\n  resources:\n    - apiVersion: rbac.authorization.k8s.io/v1\n      kind: ClusterRole\n      metadata: {name: r, namespace: default}\n",
			wants: []want{{"5:38", "kubernetes.resources[0].metadata.namespace", "ClusterRole is cluster-scoped; remove metadata.namespace", ""}},
		},
		"namespaced kind without a namespace": {
			src:   "kubernetes:\n  resources:\n    - {apiVersion: v1, kind: ServiceAccount, metadata: {name: w}}\n",
			wants: []want{{"3:56", "kubernetes.resources[0].metadata", `ServiceAccount "w" has no namespace`, "set metadata.namespace, or kubernetes.namespace for all objects"}},
		},
		"secret without a namespace": {
			src:   "kubernetes:\n  secrets:\n    - {name: s, keys: {k: {fromEnv: K}}}\n",
			wants: []want{{"3:7", "kubernetes.secrets[0]", `Secret "s" has no namespace`, "set namespace, or kubernetes.namespace for all objects"}},
		},
		"external object without a namespace": {
			src:   "kubernetes:\n  external:\n    - {kind: ServiceAccount, name: ci}\n",
			wants: []want{{"3:7", "kubernetes.external[0]", `external ServiceAccount "ci" has no namespace`, ""}},
		},
		"external namespace with a namespace": {
			src:   "kubernetes:\n  external:\n    - {kind: Namespace, name: ci, namespace: default}\n",
			wants: []want{{"3:46", "kubernetes.external[0].namespace", "a Namespace has no namespace", ""}},
		},
		"object in an undeclared namespace": {
			src:   "kubernetes:\n  resources:\n    - {apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: other}}\n",
			wants: []want{{"3:7", "kubernetes.resources[0]", `ConfigMap "c" lives in namespace "other", but Namespace "other" is not declared in this file`, "or list it under kubernetes.external if it is managed elsewhere"}},
		},
		"objects in built-in namespaces": {
			src: yml(`
				kubernetes:
				  resources:
				    - {apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: default}}
				    - {apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: kube-system}}
				    - {apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: kube-public}}
				    - {apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: kube-node-lease}}
			`),
		},
		"secret key from both sources": {
			src:   "kubernetes:\n  namespace: default\n  secrets:\n    - name: s\n      keys:\n        k: {fromEnv: K, fromFile: k.txt}\n",
			wants: []want{{"6:12", "kubernetes.secrets[0].keys.k", `give exactly one of fromEnv or fromFile for key "k"`, ""}},
		},
		"secret key from no source": {
			src:   "kubernetes:\n  namespace: default\n  secrets:\n    - name: s\n      keys:\n        k: {}\n",
			wants: []want{{"6:12", "kubernetes.secrets[0].keys.k", `give exactly one of fromEnv or fromFile for key "k"`, ""}},
		},
		"secret key from a file": {
			src: "kubernetes:\n  namespace: default\n  secrets:\n    - name: s\n      keys:\n        ca.crt: {fromFile: certs/ca.crt}\n",
		},
		"invalid secret key": {
			src:   "kubernetes:\n  namespace: default\n  secrets:\n    - name: s\n      keys:\n        \"api key\": {fromEnv: K}\n",
			wants: []want{{"6:20", `kubernetes.secrets[0].keys."api key"`, `"api key" is not a valid Secret key: a valid config key must consist of alphanumeric characters, '-', '_' or '.'`, ""}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, probs := validateSource("pools.yaml", []byte(tc.src), noEnv)
			checkProblems(t, probs, tc.wants)
		})
	}
}

// at is a position on the n-th line after kubeBase.
func at(n, col int) string { return fmt.Sprintf("%d:%d", kubeBaseLines+n, col) }

func TestCheckReferences(t *testing.T) {
	const notDeclared = "declare it under kubernetes.resources (or kubernetes.secrets), or list it under kubernetes.external if it is managed elsewhere"
	tests := map[string]struct {
		jobTemplate string // lines under pools[0].jobTemplate, indented by 6
		wants       []want
	}{
		"declared service account": {jobTemplate: "serviceAccountName: worker"},
		"external service account": {jobTemplate: "serviceAccountName: ci"},
		"default service account":  {jobTemplate: "serviceAccountName: default"},
		"undeclared service account": {
			jobTemplate: "serviceAccountName: prefect-worker",
			wants:       []want{{at(1, 27), "pools[0].jobTemplate.serviceAccountName", `ServiceAccount "prefect-worker" in namespace "jobs" is not declared in this file`, notDeclared}},
		},
		"service account in another namespace": {
			jobTemplate: "namespace: other\n      serviceAccountName: worker",
			wants:       []want{{at(2, 27), "pools[0].jobTemplate.serviceAccountName", `ServiceAccount "worker" in namespace "other" is not declared in this file`, ""}},
		},
		"undeclared job namespace": {
			jobTemplate: "namespace: batch",
			wants:       []want{{at(1, 18), "pools[0].jobTemplate.namespace", `pool "a" runs its jobs in namespace "batch", but Namespace "batch" is not declared in this file`, notDeclared}},
		},
		"invalid job namespace": {
			jobTemplate: "namespace: Batch",
			wants: []want{
				{at(1, 18), "pools[0].jobTemplate.namespace", `"Batch" is not a valid name: a lowercase RFC 1123 label`, ""},
				{at(1, 18), "pools[0].jobTemplate.namespace", `pool "a" runs its jobs in namespace "Batch", but Namespace "Batch" is not declared`, ""},
			},
		},
		"declared secret key":          {jobTemplate: "env:\n        - {name: A, valueFrom: {secretKeyRef: {name: auth, key: auth-string}}}"},
		"external secret key":          {jobTemplate: "env:\n        - {name: A, valueFrom: {secretKeyRef: {name: registry, key: token}}}"},
		"external secret with any key": {jobTemplate: "env:\n        - {name: A, valueFrom: {secretKeyRef: {name: anykey, key: whatever}}}"},
		"undeclared secret": {
			jobTemplate: "env:\n        - {name: A, valueFrom: {secretKeyRef: {name: prefect-auth, key: auth-string}}}",
			wants:       []want{{at(2, 47), "pools[0].jobTemplate.env[0].valueFrom.secretKeyRef", `Secret "prefect-auth" in namespace "jobs" is not declared in this file`, notDeclared}},
		},
		"missing secret key": {
			jobTemplate: "env:\n        - {name: A, valueFrom: {secretKeyRef: {name: auth, key: password}}}",
			wants:       []want{{at(2, 47), "pools[0].jobTemplate.env[0].valueFrom.secretKeyRef", `Secret "auth" in namespace "jobs" has no key "password"`, "its keys: auth-string"}},
		},
		"missing external secret key": {
			jobTemplate: "env:\n        - {name: A, valueFrom: {secretKeyRef: {name: registry, key: password}}}",
			wants:       []want{{at(2, 47), "pools[0].jobTemplate.env[0].valueFrom.secretKeyRef", `Secret "registry" in namespace "jobs" has no key "password"`, "its keys: token"}},
		},
		"optional secret": {jobTemplate: "env:\n        - {name: A, valueFrom: {secretKeyRef: {name: nope, key: k, optional: true}}}"},
		"non-optional secret": {
			jobTemplate: "env:\n        - {name: A, valueFrom: {secretKeyRef: {name: nope, key: k, optional: false}}}",
			wants:       []want{{at(2, 47), "pools[0].jobTemplate.env[0].valueFrom.secretKeyRef", `Secret "nope" in namespace "jobs" is not declared`, ""}},
		},
		"config map keys from data and binaryData": {
			jobTemplate: "env:\n        - {name: A, valueFrom: {configMapKeyRef: {name: settings, key: mode}}}\n        - {name: B, valueFrom: {configMapKeyRef: {name: settings, key: blob}}}",
		},
		"external config map": {jobTemplate: "env:\n        - {name: A, valueFrom: {configMapKeyRef: {name: ext-settings, key: any}}}"},
		"undeclared config map": {
			jobTemplate: "env:\n        - {name: A, valueFrom: {configMapKeyRef: {name: nope, key: mode}}}",
			wants:       []want{{at(2, 50), "pools[0].jobTemplate.env[0].valueFrom.configMapKeyRef", `ConfigMap "nope" in namespace "jobs" is not declared in this file`, notDeclared}},
		},
		"missing config map key": {
			jobTemplate: "env:\n        - {name: A, valueFrom: {configMapKeyRef: {name: settings, key: speed}}}",
			wants:       []want{{at(2, 50), "pools[0].jobTemplate.env[0].valueFrom.configMapKeyRef", `ConfigMap "settings" in namespace "jobs" has no key "speed"`, "its keys: blob, mode"}},
		},
		"optional config map": {jobTemplate: "env:\n        - {name: A, valueFrom: {configMapKeyRef: {name: nope, key: k, optional: true}}}"},
		"plain env":           {jobTemplate: "env:\n        - {name: A, value: b}"},
		"declared claim": {
			jobTemplate: "volumes:\n        - {name: d, persistentVolumeClaim: {claimName: data}}\n        - {name: s, persistentVolumeClaim: {claimName: shared}}\n      volumeMounts:\n        - {name: d, mountPath: /data}\n        - {name: s, mountPath: /shared}",
		},
		"undeclared claim": {
			jobTemplate: "volumes:\n        - name: d\n          persistentVolumeClaim: {claimName: shared-data}",
			wants:       []want{{at(3, 46), "pools[0].jobTemplate.volumes[0].persistentVolumeClaim.claimName", `PersistentVolumeClaim "shared-data" in namespace "jobs" is not declared in this file`, notDeclared}},
		},
		"secret and config map volumes": {
			jobTemplate: "volumes:\n        - {name: a, secret: {secretName: auth}}\n        - {name: b, configMap: {name: settings}}\n        - {name: c, secret: {secretName: nope, optional: true}}\n        - {name: d, configMap: {name: nope, optional: true}}",
		},
		"undeclared secret and config map volumes": {
			jobTemplate: "volumes:\n        - name: a\n          secret: {secretName: nope}\n        - name: b\n          configMap: {name: nope}",
			wants: []want{
				{at(3, 32), "pools[0].jobTemplate.volumes[0].secret.secretName", `Secret "nope" in namespace "jobs" is not declared`, ""},
				{at(5, 29), "pools[0].jobTemplate.volumes[1].configMap.name", `ConfigMap "nope" in namespace "jobs" is not declared`, ""},
			},
		},
		"mount naming no volume": {
			jobTemplate: "volumes:\n        - {name: data, emptyDir: {}}\n      volumeMounts:\n        - name: data\n          mountPath: /data\n        - name: scratch\n          mountPath: /scratch",
			wants:       []want{{at(6, 17), "pools[0].jobTemplate.volumeMounts[1].name", `volume mount "scratch" names no volume in jobTemplate.volumes`, ""}},
		},
		"mount without volumes": {
			jobTemplate: "volumeMounts:\n        - {name: data, mountPath: /data}",
			wants:       []want{{at(2, 18), "pools[0].jobTemplate.volumeMounts[0].name", `volume mount "data" names no volume`, ""}},
		},
		"worker start command": {
			jobTemplate: "command: prefect worker start --pool a",
			wants: []want{{at(1, 16), "pools[0].jobTemplate.command", "the job's container runs `prefect worker start`: every flow-run Job would start a long-lived worker instead of running its flow",
				"leave the command empty so the worker runs the flow; run the worker itself as a Deployment, outside the job template"}},
		},
		"other command": {jobTemplate: "command: python -m flows.main"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := kubeBase + "      " + tc.jobTemplate + "\n"
			_, probs := validateSource("pools.yaml", []byte(src), noEnv)
			checkProblems(t, probs, tc.wants)
		})
	}
}

func TestCheckBindings(t *testing.T) {
	head := yml(`
		kubernetes:
		  namespace: jobs
		  resources:
		    - {apiVersion: v1, kind: Namespace, metadata: {name: jobs}}
		    - {apiVersion: v1, kind: ServiceAccount, metadata: {name: worker}}
		    - apiVersion: rbac.authorization.k8s.io/v1
	`)
	tests := map[string]struct {
		binding string // the binding's lines after apiVersion, indented by 6
		wants   []want
	}{
		"role binding to a declared account": {
			binding: "kind: RoleBinding\n      metadata: {name: b}\n      roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n      subjects: [{kind: ServiceAccount, name: worker}]",
		},
		"cluster role binding to a declared account": {
			binding: "kind: ClusterRoleBinding\n      metadata: {name: b}\n      roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}\n      subjects: [{kind: ServiceAccount, name: worker, namespace: jobs}]",
		},
		"binding to the default account and to users": {
			binding: "kind: RoleBinding\n      metadata: {name: b}\n      roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n      subjects:\n        - {kind: ServiceAccount, name: default}\n        - {kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}\n        - {kind: Group, name: devs, apiGroup: rbac.authorization.k8s.io}",
		},
		"binding to an undeclared account": {
			binding: "kind: ClusterRoleBinding\n      metadata: {name: b}\n      roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}\n      subjects:\n        - kind: ServiceAccount\n          name: prefect-worker\n          namespace: jobs",
			wants: []want{{"11:11", "kubernetes.resources[2].subjects[0]", `ServiceAccount "prefect-worker" in namespace "jobs" is not declared in this file`,
				"list it under kubernetes.external"}},
		},
		"binding to an account in another namespace": {
			binding: "kind: RoleBinding\n      metadata: {name: b}\n      roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n      subjects:\n        - {kind: ServiceAccount, name: worker, namespace: default}",
			wants:   []want{{"11:11", "kubernetes.resources[2].subjects[0]", `ServiceAccount "worker" in namespace "default" is not declared in this file`, ""}},
		},
		"cluster role binding subject without a namespace": {
			binding: "kind: ClusterRoleBinding\n      metadata: {name: b}\n      roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}\n      subjects:\n        - {kind: ServiceAccount, name: worker}",
			wants:   []want{{"11:11", "kubernetes.resources[2].subjects[0]", `ServiceAccount subject "worker" has no namespace`, "set the namespace of the ServiceAccount on the subject"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := head + "      " + tc.binding + "\n"
			_, probs := validateSource("pools.yaml", []byte(src), noEnv)
			checkProblems(t, probs, tc.wants)
		})
	}
}
