package prefectsync

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

// buildJob is the installed prefect-kubernetes worker's own code path from
// a pool's base job template to the Job it submits for a flow run:
// KubernetesWorkerJobConfiguration.from_template_and_values (the pool's
// variable defaults, no deployment overrides) then prepare_for_flow_run.
// The client is only used to resolve block and variable references, which
// the templates do not hold.
const buildJob = `
import asyncio, json, sys, uuid
from prefect.client.schemas.objects import FlowRun
from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

class NoClient:
    async def __aenter__(self): return self
    async def __aexit__(self, *a): return False
    def __getattr__(self, name):
        async def call(*a, **k):
            raise RuntimeError("unexpected client call: " + name)
        return call

async def main():
    # {"name": template, ...} in, {"name": job manifest, ...} out.
    jobs = {}
    for name, template in json.load(sys.stdin).items():
        cfg = await KubernetesWorkerJobConfiguration.from_template_and_values(template, {}, client=NoClient())
        cfg.prepare_for_flow_run(FlowRun(id=uuid.uuid4(), name="e2e-run", flow_id=uuid.uuid4()))
        jobs[name] = cfg.job_manifest
    json.dump(jobs, sys.stdout)

asyncio.run(main())
`

// renderJobs runs buildJob on each template (one Python process: starting
// one takes seconds on a loaded machine); extraEnv is the worker process's
// own environment (its Prefect settings).
func renderJobs(t *testing.T, templates map[string]map[string]any, extraEnv ...string) map[string]map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, servers.VenvPython(t), "-c", buildJob)
	cmd.Env = append([]string{"HOME=" + home, "PATH=/usr/bin:/bin", "PREFECT_HOME=" + filepath.Join(home, ".prefect"),
		"PREFECT_PROFILES_PATH=" + filepath.Join(home, "profiles.toml")}, extraEnv...)
	raw, _ := json.Marshal(templates)
	cmd.Stdin = bytes.NewReader(raw)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	began := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("building the Jobs with prefect-kubernetes: %v\n%s", err, stderr.String())
	}
	t.Logf("prefect-kubernetes built %d Job(s) in %s", len(templates), time.Since(began).Round(time.Millisecond))
	var jobs map[string]map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &jobs); err != nil {
		t.Fatalf("the worker's Jobs are not JSON: %v\n%s", err, stdout.String())
	}
	return jobs
}

// jobParts picks the pod spec, the container and its env by name.
func jobParts(t *testing.T, job map[string]any) (pod, container map[string]any, env map[string]map[string]any) {
	t.Helper()
	p, _ := dig(job, "spec", "template", "spec")
	pod, _ = p.(map[string]any)
	cs, _ := pod["containers"].([]any)
	if len(cs) != 1 {
		t.Fatalf("the Job has %d containers: %s", len(cs), compact(job))
	}
	container, _ = cs[0].(map[string]any)
	env = map[string]map[string]any{}
	list, _ := container["env"].([]any)
	for _, item := range list {
		m, _ := item.(map[string]any)
		name, _ := m["name"].(string)
		if _, dup := env[name]; dup {
			t.Errorf("env %s appears twice in the Job: %s", name, compact(list))
		}
		env[name] = m
	}
	return pod, container, env
}

var secretRef = map[string]any{"secretKeyRef": map[string]any{"name": "prefect-basic-auth", "key": "auth-string"}}

// The installed Kubernetes worker accepts every synced template and builds
// the Job the file describes.
func TestWorkerAcceptsTheTemplate(t *testing.T) {
	e := newEnv(t, server(t), "worker")
	e.sync(0, e.example("pools.yaml"), "--yes")
	templates := map[string]map[string]any{}
	for _, name := range examplePools {
		templates[name] = e.api().mustPool(e.pool(name)).BaseJobTemplate
	}
	jobs := renderJobs(t, templates)

	for name, want := range exampleWant() {
		t.Run(name, func(t *testing.T) {
			job := jobs[name]
			pod, c, env := jobParts(t, job)

			if job["kind"] != "Job" || job["apiVersion"] != "batch/v1" {
				t.Errorf("not a batch/v1 Job: %v %v", job["apiVersion"], job["kind"])
			}
			if ns, _ := dig(job, "metadata", "namespace"); ns != "prefect" {
				t.Errorf("namespace %v", ns)
			}
			if c["name"] != "prefect-job" || c["image"] != image {
				t.Errorf("container %v, image %v", c["name"], c["image"])
			}
			wantPull := "IfNotPresent"
			if v, ok := want.defaults["image_pull_policy"]; ok {
				wantPull = v.(string)
			}
			if c["imagePullPolicy"] != wantPull {
				t.Errorf("imagePullPolicy %v, want %s", c["imagePullPolicy"], wantPull)
			}
			if args := compact(c["args"]); args != `["prefect","flow-run","execute"]` {
				t.Errorf("container args %s: the Job must run the flow, not a worker", args)
			}
			res := map[string]any{
				"requests": map[string]any{"cpu": want.defaults["cpu_request"], "memory": want.defaults["memory_request"]},
				"limits":   map[string]any{"cpu": want.defaults["cpu_limit"], "memory": want.defaults["memory_limit"]},
			}
			for k, v := range want.extraLimits {
				res["limits"].(map[string]any)[k] = v
			}
			if !reflect.DeepEqual(c["resources"], res) {
				t.Errorf("resources %s, want %s", compact(c["resources"]), compact(res))
			}
			if v := env["PREFECT_API_URL"]; v["value"] != apiURLInK8 {
				t.Errorf("PREFECT_API_URL %s", compact(v))
			}
			if v := env["PREFECT_API_AUTH_STRING"]; !reflect.DeepEqual(v["valueFrom"], secretRef) || v["value"] != nil {
				t.Errorf("PREFECT_API_AUTH_STRING %s, want the Secret reference", compact(v))
			}
			if env["PREFECT__FLOW_RUN_ID"] == nil {
				t.Errorf("the Job does not carry the flow run id: %s", compact(c["env"]))
			}
			if pod["serviceAccountName"] != "prefect-worker" || pod["restartPolicy"] != "Never" {
				t.Errorf("serviceAccountName %v, restartPolicy %v", pod["serviceAccountName"], pod["restartPolicy"])
			}
			if name == "gbif-automations" {
				if !containsValue(pod["volumes"], map[string]any{"name": "shared-data", "persistentVolumeClaim": map[string]any{"claimName": "shared-data"}}) ||
					!containsValue(c["volumeMounts"], map[string]any{"name": "shared-data", "mountPath": "/data"}) {
					t.Errorf("volumes %s, mounts %s", compact(pod["volumes"]), compact(c["volumeMounts"]))
				}
				if ttl, _ := dig(job, "spec", "ttlSecondsAfterFinished"); ttl != float64(3600) {
					t.Errorf("ttlSecondsAfterFinished %v", ttl)
				}
			} else if pod["volumes"] != nil || c["volumeMounts"] != nil {
				t.Errorf("unexpected volumes %s, mounts %s", compact(pod["volumes"]), compact(c["volumeMounts"]))
			}
			if name == "gpu-tasks" {
				if !reflect.DeepEqual(pod["nodeSelector"], map[string]any{"nvidia.com/gpu.present": "true"}) {
					t.Errorf("nodeSelector %s", compact(pod["nodeSelector"]))
				}
				if !reflect.DeepEqual(pod["tolerations"], []any{map[string]any{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}}) {
					t.Errorf("tolerations %s", compact(pod["tolerations"]))
				}
			} else if pod["nodeSelector"] != nil || pod["tolerations"] != nil {
				t.Errorf("unexpected nodeSelector %s, tolerations %s", compact(pod["nodeSelector"]), compact(pod["tolerations"]))
			}
		})
	}
}

// A real worker talks to a basic-auth server, so its own environment holds
// PREFECT_API_AUTH_STRING. The Job it builds must still take the auth
// string from the Secret, not carry the worker's value in plain text.
func TestWorkerWithCredentialsKeepsTheSecretReference(t *testing.T) {
	const workerAuth = "admin:CANARY-worker-5e1"
	e := newEnv(t, server(t), "workerauth")
	e.sync(0, e.example("pools.yaml"), "--yes")
	p := e.api().mustPool(e.pool("gbif-automations"))

	job := renderJobs(t, map[string]map[string]any{"gbif": p.BaseJobTemplate},
		"PREFECT_API_URL="+e.server.URL, "PREFECT_API_AUTH_STRING="+workerAuth)["gbif"]
	_, _, env := jobParts(t, job)
	if v := env["PREFECT_API_URL"]; v["value"] != apiURLInK8 {
		t.Errorf("PREFECT_API_URL %s: the template's value must beat the worker's", compact(v))
	}
	leaked := strings.Contains(compact(job), workerAuth)
	mustHold(t, leaked || !reflect.DeepEqual(env["PREFECT_API_AUTH_STRING"]["valueFrom"], secretRef),
		"the worker copies its own PREFECT_API_AUTH_STRING into the Job's env and prefect-kubernetes "+
			"then drops the template's secretKeyRef entry of the same name (_populate_env_in_manifest), so the "+
			"flow-run Job would carry the auth string in plain text; the env variable's default must map "+
			"each valueFrom name to null, which the worker filters out. Job env: %s", compact(env["PREFECT_API_AUTH_STRING"]))
}
