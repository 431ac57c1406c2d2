package config

import (
	"fmt"
	"testing"
)

func TestCheckPoolsAndQueues(t *testing.T) {
	tests := map[string]struct {
		src   string
		wants []want
	}{
		"duplicate pool names": {
			src: "pools:\n  - {name: gpu, type: kubernetes}\n  - {name: cpu, type: kubernetes}\n  - {name: gpu, type: process}\n  - {name: gpu, type: process}\n",
			wants: []want{
				{"4:12", "pools[2].name", `duplicate pool name "gpu" (also pools[0])`, ""},
				{"5:12", "pools[3].name", `duplicate pool name "gpu" (also pools[0])`, ""},
			},
		},
		"pool names differing in case": {
			src: "pools:\n  - {name: gpu, type: kubernetes}\n  - {name: GPU, type: kubernetes}\n",
		},
		"duplicate queue names": {
			src: validPool + "    queues:\n      - name: urgent\n      - name: default\n      - name: urgent\n",
			wants: []want{
				{"7:15", "pools[0].queues[2].name", `duplicate queue name "urgent" in pool "a" (also queues[0])`, ""},
			},
		},
		"same queue name in two pools": {
			src: "pools:\n  - {name: a, type: kubernetes, queues: [{name: urgent, priority: 1}]}\n  - {name: b, type: kubernetes, queues: [{name: urgent, priority: 1}]}\n",
		},
		"duplicate priorities": {
			src: validPool + "    queues:\n      - {name: urgent, priority: 1}\n      - {name: default, priority: 2}\n      - {name: batch, priority: 1}\n",
			wants: []want{
				{"7:33", "pools[0].queues[2].priority", `priority 1 is already used by queue "urgent"; priorities are unique within a pool`, ""},
			},
		},
		"queues without priorities": {
			src: validPool + "    queues:\n      - {name: urgent}\n      - {name: default}\n",
		},
		"pool name starting with prefect": {
			src:   "pools:\n  - {name: prefect-gpu, type: kubernetes}\n",
			wants: []want{{"2:12", "pools[0].name", `pool names starting with "prefect" are reserved by Prefect`, ""}},
		},
		"pool name starting with Prefect": {
			src:   "pools:\n  - {name: Prefect, type: kubernetes}\n",
			wants: []want{{"2:12", "pools[0].name", `pool names starting with "prefect" are reserved`, ""}},
		},
		"pool name containing prefect": {
			src: "pools:\n  - {name: my-prefect-pool, type: kubernetes}\n",
		},
		"queue name starting with prefect": {
			src: validPool + "    queues: [{name: prefect-queue}]\n",
		},
		"pool name with several forbidden characters": {
			src: "pools:\n  - {name: \"a&b<c\", type: kubernetes}\n",
			wants: []want{
				{"2:12", "pools[0].name", `pool name "a&b<c" contains "&"; Prefect does not allow / % & > < in names`, ""},
			},
		},
		"reserved and forbidden": {
			src: "pools:\n  - {name: prefect/x, type: kubernetes}\n",
			wants: []want{
				{"2:12", "pools[0].name", `pool name "prefect/x" contains "/"`, ""},
				{"2:12", "pools[0].name", `pool names starting with "prefect" are reserved`, ""},
			},
		},
		"jobTemplate and baseJobTemplate": {
			src: validPool + "    jobTemplate: {image: a}\n    baseJobTemplate:\n      job_configuration: {}\n      variables: {properties: {}}\n",
			wants: []want{{"6:7", "pools[0].baseJobTemplate", "jobTemplate and baseJobTemplate cannot both be set",
				"use jobTemplate for overrides of the default template, or baseJobTemplate for a complete template"}},
		},
		"jobTemplate for a process pool": {
			src:   "pools:\n  - name: a\n    type: process\n    jobTemplate:\n      image: a\n",
			wants: []want{{"5:7", "pools[0].jobTemplate", `jobTemplate overrides apply to type kubernetes only, not "process"`, "give a complete baseJobTemplate for this worker type"}},
		},
		"docker pool without a template": {
			src: "pools:\n  - name: a\n    type: docker\n",
			wants: []want{{"3:11", "pools[0].type", `type "docker" has no embedded default template; give a baseJobTemplate`,
				"without one the first worker to connect writes its own default, which then shows as drift"}},
		},
		"docker pool with a template": {
			src: "pools:\n  - name: a\n    type: docker\n    baseJobTemplate: {job_configuration: {image: \"{{ image }}\"}, variables: {properties: {image: {}}}}\n",
		},
		"process pool without a template": {
			src: "pools:\n  - name: a\n    type: process\n",
		},
		"kubernetes pool without a template": {
			src: "pools:\n  - name: a\n    type: kubernetes\n",
		},
	}
	for _, c := range "/%&><" {
		tests[fmt.Sprintf("pool name with %c", c)] = struct {
			src   string
			wants []want
		}{
			src:   fmt.Sprintf("pools:\n  - name: \"gpu%cfast\"\n    type: kubernetes\n", c),
			wants: []want{{"2:11", "pools[0].name", fmt.Sprintf(`pool name "gpu%cfast" contains "%c"; Prefect does not allow / %% & > < in names`, c, c), ""}},
		}
		tests[fmt.Sprintf("queue name with %c", c)] = struct {
			src   string
			wants []want
		}{
			src:   fmt.Sprintf(validPool+"    queues:\n      - name: \"q%c\"\n", c),
			wants: []want{{"5:15", "pools[0].queues[0].name", fmt.Sprintf(`queue name "q%c" contains "%c"`, c, c), ""}},
		}
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, probs := validateSource("pools.yaml", []byte(tc.src), noEnv)
			checkProblems(t, probs, tc.wants)
		})
	}
}

func TestIsWorkerStart(t *testing.T) {
	tests := map[string]struct {
		cmd  string
		want bool
	}{
		"plain":                 {"prefect worker start --pool gpu", true},
		"full path":             {"/usr/local/bin/prefect worker start -p gpu", true},
		"python module":         {"python -m prefect worker start", true},
		"behind a shell":        {"sh -c prefect worker start", true},
		"listing workers":       {"prefect worker ls", false},
		"running a flow":        {"prefect flow-run execute", false},
		"empty":                 {"", false},
		"too short":             {"prefect worker", false},
		"other program":         {"prefect-apply worker start", false},
		"start before worker":   {"prefect start worker", false},
		"extra spaces and tabs": {"  prefect \t worker   start ", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := isWorkerStart(stringList(tc.cmd)); got != tc.want {
				t.Errorf("isWorkerStart(%q) = %v, want %v", tc.cmd, got, tc.want)
			}
		})
	}
}
