package config

import (
	"reflect"
	"strings"
	"testing"
)

// prefect2 is a pool with a Prefect 2 KubernetesJob template, as older
// runbooks paste it.
var prefect2 = yml(`
	kubernetes:
	  namespace: prefect
	pools:
	  - name: legacy
	    type: kubernetes
	    baseJobTemplate:
	      job:
	        apiVersion: batch/v1
	        kind: Job
	        metadata:
	          namespace: prefect
	          labels: {team: gbif}
	        spec:
	          backoffLimit: 2
	          ttlSecondsAfterFinished: 600
	          template:
	            spec:
	              serviceAccountName: prefect-worker
	              containers:
	                - name: prefect-job
	                  image: gbifnorway/prefect-automations:latest
	                  command: [prefect, worker, start, --pool, legacy]
	                  env:
	                    - {name: A, value: b}
	                  resources:
	                    requests: {cpu: 500m}
`)

func TestCheckTemplates(t *testing.T) {
	const workerStart = "the job's container runs `prefect worker start`"
	tests := map[string]struct {
		src   string
		wants []want
	}{
		"Prefect 2 template": {
			src: prefect2,
			wants: []want{
				{"7:7", "pools[0].baseJobTemplate", "this is the Prefect 2 `{job: ...}` template format; Prefect 3 rejects it (422)",
					"Prefect 3 expects {job_configuration: {job_manifest: ...}, variables: {properties: ...}}"},
				{"22:28", "pools[0].baseJobTemplate.job.spec.template.spec.containers[0].command", workerStart, "run the worker itself as a Deployment"},
			},
		},
		"Prefect 2 template without a container": {
			src:   "pools:\n  - name: legacy\n    type: kubernetes\n    baseJobTemplate:\n      job: {apiVersion: batch/v1, kind: Job}\n",
			wants: []want{{"5:7", "pools[0].baseJobTemplate", "this is the Prefect 2 `{job: ...}` template format", "replace baseJobTemplate with this):\n  jobTemplate: {}"}},
		},
		"placeholder without a variable": {
			src: yml(`
				pools:
				  - name: raw
				    type: kubernetes
				    baseJobTemplate:
				      job_configuration:
				        image: "{{ image }}"
				        env: ["{{image}}", "{{ env }}"]
				        name: "{{ name.first }}"
				      variables:
				        properties:
				          env: {type: object}
				          name: {type: object}
			`),
			wants: []want{
				{"6:16", "pools[0].baseJobTemplate.job_configuration.image", "placeholder {{ image }} has no variable; the server rejects the template",
					`add "image" under variables.properties, or remove the placeholder`},
				{"7:15", "pools[0].baseJobTemplate.job_configuration.env[0]", "placeholder {{ image }} has no variable", ""},
			},
		},
		"placeholders in a list": {
			src: yml(`
				pools:
				  - name: raw
				    type: docker
				    baseJobTemplate:
				      job_configuration:
				        volumes: ["{{ volume }}"]
				      variables: {properties: {}}
			`),
			wants: []want{{"6:19", "pools[0].baseJobTemplate.job_configuration.volumes[0]", "placeholder {{ volume }} has no variable", `add "volume" under variables.properties`}},
		},
		"variables without properties": {
			src:   "pools:\n  - name: raw\n    type: docker\n    baseJobTemplate:\n      job_configuration: {}\n      variables: {type: object}\n",
			wants: []want{{"6:18", "pools[0].baseJobTemplate.variables", "variables has no properties; it must be a JSON Schema object with `properties`", ""}},
		},
		"worker start in the command": {
			src: yml(`
				pools:
				  - name: raw
				    type: process
				    baseJobTemplate:
				      job_configuration: {command: "prefect worker start -p raw"}
				      variables: {properties: {}}
			`),
			wants: []want{{"5:36", "pools[0].baseJobTemplate.job_configuration.command", workerStart, ""}},
		},
		"worker start as the command variable's default": {
			src: yml(`
				pools:
				  - name: raw
				    type: process
				    baseJobTemplate:
				      job_configuration: {command: "{{ command }}"}
				      variables:
				        properties:
				          command: {type: string, default: "prefect worker start --pool raw"}
			`),
			wants: []want{{"8:44", "pools[0].baseJobTemplate.variables.properties.command.default", workerStart, ""}},
		},
		"worker start in a manifest container": {
			src: yml(`
				pools:
				  - name: raw
				    type: kubernetes
				    baseJobTemplate:
				      job_configuration:
				        job_manifest:
				          spec:
				            template:
				              spec:
				                containers:
				                  - name: ok
				                    command: [python, flow.py]
				                  - name: worker
				                    command: [prefect]
				                    args: [worker, start, --pool, raw]
				      variables: {properties: {}}
			`),
			wants: []want{{"15:27", "pools[0].baseJobTemplate.job_configuration.job_manifest.spec.template.spec.containers[1].args", workerStart, ""}},
		},
		"variable defaults against their schemas": {
			src: yml(`
				pools:
				  - name: raw
				    type: docker
				    baseJobTemplate:
				      job_configuration: {image: "{{ image }}", cpu: "{{ cpu }}", mode: "{{ mode }}"}
				      variables:
				        definitions: {count: {type: integer}}
				        properties:
				          image: {type: string, default: 3}
				          cpu: {type: integer, minimum: 1, default: 0}
				          mode: {enum: [fast, slow], default: medium}
				          replicas: {$ref: "#/definitions/count", default: two}
				          labels: {type: object, default: {team: gbif}}
				          ttl: {type: integer, default: 60}
				          name: {type: string, default: null}
			`),
			wants: []want{
				{"9:42", "pools[0].baseJobTemplate.variables.properties.image.default", `the default of variable "image" does not match its schema: got number, want string`, ""},
				{"10:53", "pools[0].baseJobTemplate.variables.properties.cpu.default", `the default of variable "cpu" does not match its schema: minimum: got 0, want 1`, ""},
				{"11:47", "pools[0].baseJobTemplate.variables.properties.mode.default", `the default of variable "mode" does not match its schema: value must be one of 'fast', 'slow'`, ""},
				{"12:60", "pools[0].baseJobTemplate.variables.properties.replicas.default", `the default of variable "replicas" does not match its schema: got string, want integer`, ""},
			},
		},
		"variable that is not a JSON Schema": {
			src: yml(`
				pools:
				  - name: raw
				    type: docker
				    baseJobTemplate:
				      job_configuration: {}
				      variables:
				        properties:
				          image: {type: string, default: a}
				          cpu: {type: int, default: 1}
			`),
			wants: []want{{"9:23", "pools[0].baseJobTemplate.variables.properties.cpu.type", "not a valid JSON Schema: value must be one of 'array', 'boolean', 'integer', 'null', 'number', 'object', 'string'", ""}},
		},
		"variable with a dangling reference": {
			src: yml(`
				pools:
				  - name: raw
				    type: docker
				    baseJobTemplate:
				      job_configuration: {}
				      variables:
				        properties:
				          cpu: {$ref: "#/definitions/nope", default: 1}
			`),
			wants: []want{{"7:9", "pools[0].baseJobTemplate.variables", `not a valid JSON Schema: json-pointer in "variables#/definitions/nope" not found`, ""}},
		},
		"complete raw template": {
			src: yml(`
				pools:
				  - name: raw
				    type: kubernetes
				    baseJobTemplate:
				      job_configuration:
				        command: "{{ command }}"
				        job_manifest:
				          spec:
				            template:
				              spec:
				                containers: [{image: "{{ image }}", args: "{{ command }}"}]
				      variables:
				        properties:
				          command: {type: string}
				          image: {type: string, default: "python:3.12"}
			`),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, probs := validateSource("pools.yaml", []byte(tc.src), noEnv)
			checkProblems(t, probs, tc.wants)
		})
	}
}

func TestTranslatePrefect2(t *testing.T) {
	_, probs := validateSource("pools.yaml", []byte(prefect2), noEnv)
	if len(probs) == 0 {
		t.Fatal("no problem")
	}
	hint := probs[0].Hint
	_, got, _ := strings.Cut(hint, "replace baseJobTemplate with this):\n")
	wantYAML := yml(`
		  jobTemplate:
		    backoffLimit: 2
		    env:
		    - name: A
		      value: b
		    finishedJobTTL: 600
		    image: gbifnorway/prefect-automations:latest
		    labels:
		      team: gbif
		    namespace: prefect
		    resources:
		      requests:
		        cpu: 500m
		    serviceAccountName: prefect-worker`)
	if got != wantYAML {
		t.Errorf("translation:\n%s\nwant:\n%s", got, wantYAML)
	}
}

func TestPlaceholders(t *testing.T) {
	v := map[string]any{
		"a": "{{ image }} and {{name}}",
		"b": []any{"{{ a.b }}", map[string]any{"c": "{{  spaced  }}", "d": 3}},
		"e": "{{ }} {{ two words }} {image}",
	}
	want := []string{"a.b", "image", "name", "spaced"}
	if got := Placeholders(v); !reflect.DeepEqual(got, want) {
		t.Errorf("Placeholders = %q, want %q", got, want)
	}
}
