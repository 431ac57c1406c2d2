package prefectsync

import (
	"reflect"
	"testing"
)

// wantPool is what examples/pools.yaml declares for one pool, written out
// here by hand rather than derived from the code under test.
type wantPool struct {
	description      string
	concurrencyLimit *int
	// defaults are base_job_template variable defaults.
	defaults map[string]any
	// limits and requests are the container's resources as the job
	// manifest holds them (placeholders for cpu and memory).
	extraLimits map[string]any
	queues      map[string]wantQueue
}

type wantQueue struct {
	priority    int
	description string // "" when the file declares none
}

func intp(i int) *int { return &i }

const (
	image      = "gbifnorway/prefect-automations:latest"
	apiURLInK8 = "https://prefect.svc.gbif.no/api"
)

func exampleWant() map[string]wantPool {
	common := func(cpuReq, memReq, cpuLim, memLim string) map[string]any {
		return map[string]any{
			"image": image, "service_account_name": "prefect-worker", "namespace": "prefect",
			"cpu_request": cpuReq, "memory_request": memReq, "cpu_limit": cpuLim, "memory_limit": memLim,
			"env": map[string]any{"PREFECT_API_URL": apiURLInK8, "PREFECT_API_AUTH_STRING": nil},
		}
	}
	gbif := common("500m", "1Gi", "2", "4Gi")
	gbif["image_pull_policy"] = "Always"
	gbif["finished_job_ttl"] = float64(3600)
	return map[string]wantPool{
		"gbif-automations": {
			description: "GBIF Norway automations in the custom container",
			defaults:    gbif,
			queues:      map[string]wantQueue{"default": {1, "Everything that needs no special resources"}},
		},
		"cpu-intensive": {
			description: "CPU-heavy flows", concurrencyLimit: intp(4),
			defaults: common("2", "2Gi", "4", "4Gi"),
			queues:   map[string]wantQueue{"default": {1, ""}},
		},
		"memory-intensive": {
			description: "Flows that hold large data sets in memory", concurrencyLimit: intp(2),
			defaults: common("1", "8Gi", "2", "16Gi"),
			queues:   map[string]wantQueue{"default": {1, ""}},
		},
		"gpu-tasks": {
			description: "Flows that need a GPU", concurrencyLimit: intp(1),
			defaults:    common("1", "4Gi", "4", "16Gi"),
			extraLimits: map[string]any{"nvidia.com/gpu": "1"},
			queues: map[string]wantQueue{
				"urgent":  {1, "Short GPU jobs that should not wait behind long training runs"},
				"default": {2, ""},
			},
		},
	}
}

// checkExample reads every pool and queue of the example back from the
// server and compares them with what the file declares.
func checkExample(t *testing.T, e *env) {
	t.Helper()
	a := e.api()
	for name, want := range exampleWant() {
		p := a.mustPool(e.pool(name))
		if p.Type != "kubernetes" {
			t.Errorf("%s: type %q, want kubernetes", name, p.Type)
		}
		if p.Description == nil || *p.Description != want.description {
			t.Errorf("%s: description %v, want %q", name, p.Description, want.description)
		}
		if !reflect.DeepEqual(p.ConcurrencyLimit, want.concurrencyLimit) {
			t.Errorf("%s: concurrency_limit %v, want %v", name, deref(p.ConcurrencyLimit), deref(want.concurrencyLimit))
		}
		if p.IsPaused {
			t.Errorf("%s: is_paused, want not paused", name)
		}
		for v, wantDefault := range want.defaults {
			got, ok := p.variableDefault(v)
			if !ok || !reflect.DeepEqual(got, wantDefault) {
				t.Errorf("%s: variable %s default = %s, want %s", name, v, compact(got), compact(wantDefault))
			}
		}
		c := p.container()
		if c == nil {
			t.Fatalf("%s: the job manifest has no container: %s", name, compact(p.BaseJobTemplate))
		}
		if c["name"] != "prefect-job" || c["image"] != "{{ image }}" {
			t.Errorf("%s: container name %v, image %v", name, c["name"], c["image"])
		}
		res := map[string]any{
			"requests": map[string]any{"cpu": "{{ cpu_request }}", "memory": "{{ memory_request }}"},
			"limits":   map[string]any{"cpu": "{{ cpu_limit }}", "memory": "{{ memory_limit }}"},
		}
		for k, v := range want.extraLimits {
			res["limits"].(map[string]any)[k] = v
		}
		if !reflect.DeepEqual(c["resources"], res) {
			t.Errorf("%s: container resources %s, want %s", name, compact(c["resources"]), compact(res))
		}
		secretRef := map[string]any{"name": "PREFECT_API_AUTH_STRING", "valueFrom": map[string]any{
			"secretKeyRef": map[string]any{"name": "prefect-basic-auth", "key": "auth-string"}}}
		if !containsValue(c["env"], secretRef) {
			t.Errorf("%s: the container env lacks the PREFECT_API_AUTH_STRING secretKeyRef: %s", name, compact(c["env"]))
		}
		sa, _ := dig(p.BaseJobTemplate, "job_configuration", "job_manifest", "spec", "template", "spec", "serviceAccountName")
		if sa != "{{ service_account_name }}" {
			t.Errorf("%s: serviceAccountName %v", name, sa)
		}

		queues := a.queues(e.pool(name))
		if len(queues) != len(want.queues) {
			t.Errorf("%s: queues %v, want %v", name, keys(queues), want.queues)
		}
		for qn, wq := range want.queues {
			q, ok := queues[qn]
			if !ok {
				t.Errorf("%s: no queue %q", name, qn)
				continue
			}
			if q.Priority != wq.priority {
				t.Errorf("%s/%s: priority %d, want %d", name, qn, q.Priority, wq.priority)
			}
			if wq.description != "" && (q.Description == nil || *q.Description != wq.description) {
				t.Errorf("%s/%s: description %v, want %q", name, qn, q.Description, wq.description)
			}
			if q.IsPaused || q.ConcurrencyLimit != nil {
				t.Errorf("%s/%s: paused %v, concurrency_limit %v; the file declares neither", name, qn, q.IsPaused, deref(q.ConcurrencyLimit))
			}
		}
	}
	// The volume and its mount exist only in gbif-automations.
	gbif := a.mustPool(e.pool("gbif-automations"))
	vols, _ := dig(gbif.BaseJobTemplate, "job_configuration", "job_manifest", "spec", "template", "spec", "volumes")
	if !containsValue(vols, map[string]any{"name": "shared-data", "persistentVolumeClaim": map[string]any{"claimName": "shared-data"}}) {
		t.Errorf("gbif-automations: volumes %s", compact(vols))
	}
	if !containsValue(gbif.container()["volumeMounts"], map[string]any{"name": "shared-data", "mountPath": "/data"}) {
		t.Errorf("gbif-automations: volumeMounts %s", compact(gbif.container()["volumeMounts"]))
	}
}

func containsValue(list any, want any) bool {
	l, _ := list.([]any)
	for _, v := range l {
		if reflect.DeepEqual(v, want) {
			return true
		}
	}
	return false
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
