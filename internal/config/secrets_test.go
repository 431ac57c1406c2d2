package config

import (
	"reflect"
	"strings"
	"testing"
)

// secretsSection declares a Secret that reads two variables and a file.
const secretsSection = `kubernetes:
  namespace: prefect
  resources:
    - {apiVersion: v1, kind: Namespace, metadata: {name: prefect}}
  secrets:
    - name: prefect-basic-auth
      keys:
        auth-string: {fromEnv: PREFECT_API_AUTH_STRING}
        token: {fromEnv: MY_TOKEN}
        ca.crt: {fromFile: ca.txt}
`

func TestSecretsInPlainText(t *testing.T) {
	// The variables are set: a refused reference is refused whatever the
	// environment holds, and its value never enters the document.
	lookup := env(map[string]string{"PREFECT_API_AUTH_STRING": "admin:CANARY-1", "PREFECT_API_KEY": "pnu_CANARY-2",
		"MY_TOKEN": "CANARY-3", "IMAGE": "img:1"})
	const credential = "is a credential: a plain value would be stored in the pool's base job template"
	tests := map[string]struct {
		src   string
		wants []want
	}{
		"credential interpolated into an env value": {
			src: secretsSection + yml(`
				pools:
				  - name: gpu
				    type: kubernetes
				    jobTemplate:
				      env:
				        - {name: PREFECT_API_AUTH_STRING, value: "${PREFECT_API_AUTH_STRING}"}
			`),
			wants: []want{{"16:51", "pools[0].jobTemplate.env[0].value",
				"${PREFECT_API_AUTH_STRING} is a secret (the Prefect credential; kubernetes.secrets[0].keys.auth-string reads it with fromEnv): interpolated here, its value would be shown in plans",
				"replace value with valueFrom: {secretKeyRef: {name: prefect-basic-auth, key: auth-string}}"}},
		},
		"API key in a description, no Secret reads it": {
			src: "pools:\n  - name: gpu\n    type: process\n    description: key ${PREFECT_API_KEY:-none} here\n",
			wants: []want{{"4:22", "pools[0].description", "${PREFECT_API_KEY} is a secret (the Prefect credential): interpolated here",
				"declare a Secret under kubernetes.secrets that reads it (keys: {KEY: {fromEnv: PREFECT_API_KEY}}), then give the job its value with an env entry in jobTemplate.env that uses valueFrom: {secretKeyRef: {name: SECRET, key: KEY}}; it does not belong in this field (write $${PREFECT_API_KEY} for the literal text)"}},
		},
		"fromEnv variable in a ConfigMap and a queue": {
			src: strings.Replace(secretsSection, "    - {apiVersion: v1, kind: Namespace, metadata: {name: prefect}}\n",
				"    - {apiVersion: v1, kind: Namespace, metadata: {name: prefect}}\n    - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: {t: \"x${MY_TOKEN}\"}}\n", 1) + yml(`
				pools:
				  - name: gpu
				    type: kubernetes
				    queues:
				      - name: default
				        description: ${IMAGE} ${MY_TOKEN}
			`),
			wants: []want{
				{"5:74", "kubernetes.resources[1].data.t", "${MY_TOKEN} is a secret (kubernetes.secrets[0].keys.token reads it with fromEnv)", "valueFrom: {secretKeyRef: {name: prefect-basic-auth, key: token}}"},
				{"17:31", "pools[0].queues[0].description", "${MY_TOKEN} is a secret", ""},
			},
		},
		"in the Prefect URL": {
			src:   "prefect:\n  url: https://x.example/api?k=${PREFECT_API_KEY}\npools: []\n",
			wants: []want{{"2:32", "prefect.url", "${PREFECT_API_KEY} is a secret", ""}},
		},
		"plain credential in jobTemplate.env": {
			src: secretsSection + yml(`
				pools:
				  - name: gpu
				    type: kubernetes
				    jobTemplate:
				      env:
				        - {name: PREFECT_API_URL, value: "http://x/api"}
				        - name: PREFECT_API_AUTH_STRING
				          value: admin:pass
				        - {name: PREFECT_API_KEY, value: ""}
			`),
			wants: []want{{"18:18", "pools[0].jobTemplate.env[1].value", "PREFECT_API_AUTH_STRING " + credential,
				"replace value with valueFrom: {secretKeyRef: {name: prefect-basic-auth, key: auth-string}}"}},
		},
		"plain API key, no Secret reads it": {
			src: "kubernetes: {namespace: default}\npools:\n  - name: gpu\n    type: kubernetes\n    jobTemplate:\n      env: [{name: PREFECT_API_KEY, value: pnu_x}]\n",
			wants: []want{{"6:44", "pools[0].jobTemplate.env[0].value", "PREFECT_API_KEY " + credential,
				"declare a Secret under kubernetes.secrets that reads it (keys: {KEY: {fromEnv: PREFECT_API_KEY}}), then replace value with valueFrom: {secretKeyRef: {name: SECRET, key: KEY}}"}},
		},
		"plain credential in a baseJobTemplate": {
			src: yml(`
				pools:
				  - name: raw
				    type: kubernetes
				    baseJobTemplate:
				      job_configuration:
				        env: "{{ env }}"
				        job_manifest:
				          spec:
				            template:
				              spec:
				                containers:
				                  - name: c
				                    env:
				                      - {name: PREFECT_API_KEY, value: pnu_x}
				                      - {name: PREFECT_API_AUTH_STRING, valueFrom: {secretKeyRef: {name: s, key: k}}}
				      variables:
				        properties:
				          env:
				            type: object
				            default: {PREFECT_API_AUTH_STRING: "admin:pass", PREFECT_API_KEY: null, OTHER: x}
			`),
			wants: []want{
				{"14:56", "pools[0].baseJobTemplate.job_configuration.job_manifest.spec.template.spec.containers[0].env[0].value", "PREFECT_API_KEY " + credential,
					"declare a Secret under kubernetes.secrets that reads it (keys: {KEY: {fromEnv: PREFECT_API_KEY}}), then read it from a Secret: an env entry with valueFrom"},
				{"20:48", "pools[0].baseJobTemplate.variables.properties.env.default.PREFECT_API_AUTH_STRING", "PREFECT_API_AUTH_STRING " + credential, "a null default for it in the env variable"},
			},
		},
		"reference kept when aliased and merged": {
			src: secretsSection + yml(`
				pools:
				  - name: gpu
				    type: process
				    description: &d "${MY_TOKEN}"
				  - name: cpu
				    type: process
				    description: *d
			`),
			wants: []want{{"14:22", "pools[0].description", "${MY_TOKEN} is a secret", ""}},
		},
		"what is not a secret": {
			src: secretsSection + yml(`
				pools:
				  - name: gpu
				    type: kubernetes
				    description: $${PREFECT_API_AUTH_STRING} ${IMAGE} $MY_TOKEN
				    jobTemplate:
				      env:
				        - {name: PREFECT_API_URL, value: "http://x/api"}
				        - name: PREFECT_API_AUTH_STRING
				          valueFrom: {secretKeyRef: {name: prefect-basic-auth, key: auth-string}}
				        - {name: MY_TOKEN, value: "not a secret by name"}
			`),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, probs := validateSource("pools.yaml", []byte(tc.src), lookup)
			checkProblems(t, probs, tc.wants)
			if s := probs.Error(); strings.Contains(s, "CANARY") {
				t.Errorf("a problem shows a secret value:\n%s", s)
			}
		})
	}
}

// A refused reference stays as written: the secret's value is not in the
// document, for any check or message to show.
func TestRefusedReferenceKeepsTheSecretOut(t *testing.T) {
	src := secretsSection + "pools:\n  - name: gpu\n    type: process\n    description: \"${MY_TOKEN}\"\n"
	doc, probs := Parse(strings.NewReader(src), "pools.yaml", Options{LookupEnv: env(map[string]string{"MY_TOKEN": "CANARY-3"})})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	root := doc.Value.(map[string]any)
	if got := root["pools"].([]any)[0].(map[string]any)["description"]; got != "${MY_TOKEN}" {
		t.Errorf("description = %q, want the reference as written", got)
	}
}

func TestSecretSources(t *testing.T) {
	src := yml(`
		kubernetes:
		  secrets:
		    - name: a
		      keys: &keys
		        token: {fromEnv: B_TOKEN}
		        cert: {fromFile: certs/ca.pem}
		    - name: b
		      keys:
		        <<: *keys
		        other: {fromEnv: A_TOKEN}
		        bad: {fromEnv: ""}
		pools: []
	`)
	doc, probs := Parse(strings.NewReader(src), "pools.yaml", Options{LookupEnv: noEnv})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	vars, files := doc.SecretSources()
	if want := []string{"A_TOKEN", "B_TOKEN"}; !reflect.DeepEqual(vars, want) {
		t.Errorf("vars = %q, want %q", vars, want)
	}
	if want := []string{"certs/ca.pem", "certs/ca.pem"}; !reflect.DeepEqual(files, want) {
		t.Errorf("files = %q, want %q", files, want)
	}
}
