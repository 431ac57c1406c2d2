package cli

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

const savedPlanFile = `set: team
pools:
  - name: cpu
    type: process
    description: CPU work
    concurrencyLimit: LIMIT
    queues:
      - name: default
        priority: 1
  - name: gpu
    type: process
    description: GPU work
`

const newPool = `  - name: new
    type: process
`

func poolsFile(limit string) string { return strings.Replace(savedPlanFile, "LIMIT", limit, 1) }

// synced returns a world where the file with limit 4 was synced, and the
// file now asking for 5 and a new pool.
func synced(t *testing.T) (*memWorld, string) {
	w := newMemWorld(t)
	f := w.write("pools.yaml", poolsFile("4"))
	w.mustRun(0, "sync", "-f", f, "--yes")
	w.write("pools.yaml", poolsFile("5")+newPool)
	return w, f
}

func TestSyncSavedPlan(t *testing.T) {
	tests := map[string]struct {
		// between runs after diff --out and before sync --plan.
		between func(w *memWorld, f string)
		// diffFlags shape the saved plan; flags are sync's.
		diffFlags []string
		flags     []string
		code      int
		want      []string // in stderr
		applied   bool
	}{
		"unchanged: applies": {between: func(*memWorld, string) {}, applied: true},
		"a worker polled the queue: applies": {between: func(w *memWorld, _ string) {
			w.prefect.queues[queueKey("cpu", "default")].Updated = "2026-11-26T11:00:00Z"
			w.prefect.pools["cpu"].Status = "READY"
			w.prefect.pools["cpu"].Updated = "2026-11-26T11:00:00Z"
		}, applied: true},
		"file changed": {between: func(w *memWorld, f string) {
			w.write("pools.yaml", poolsFile("6"))
		}, code: 1, want: []string{"{plan} was made from a different {file} ({file}, sha256 "}},
		"pool changed out of band": {between: func(w *memWorld, _ string) {
			d := "changed by hand"
			w.prefect.pools["gpu"].Description = &d
		}, code: 1, want: []string{`work pool "gpu": changed since the plan was made; the saved plan leaves it as it is, now it updates it`, "plan.json is out of date: 1 object above changed"}},
		"pool deleted out of band": {between: func(w *memWorld, f string) {
			_ = w.prefect.DeletePool(context.Background(), "gpu")
		}, code: 1, want: []string{`work pool "gpu": deleted since the plan was made; the saved plan leaves it as it is, now it creates it`}},
		"pool created out of band": {between: func(w *memWorld, f string) {
			_ = w.prefect.CreatePool(context.Background(), &state.Pool{Name: "new", Type: "process"})
		}, code: 1, want: []string{`work pool "new": created since the plan was made; the saved plan creates it, now it leaves it alone, not managed by the set`}},
		"a flag the plan was made without": {between: func(*memWorld, string) {}, flags: []string{"--prune"},
			code: 1, want: []string{"plan.json was made without --prune"}},
		"another set": {between: func(*memWorld, string) {}, flags: []string{"--set", "other"},
			code: 1, want: []string{`plan.json was made without --set other (the plan's set is "team")`}},
		"a flag turned off that the plan was made with": {between: func(*memWorld, string) {}, diffFlags: []string{"--prune"},
			flags: []string{"--prune=false"}, code: 1, want: []string{"plan.json was made with --prune, which --prune=false contradicts"}},
		"a plan made with --force-conflicts is applied with it": {between: func(*memWorld, string) {}, diffFlags: []string{"--force-conflicts"},
			applied: true},
		"--force-conflicts on a plan made without": {between: func(*memWorld, string) {}, flags: []string{"--force-conflicts"},
			code: 1, want: []string{"plan.json was made without --force-conflicts"}},
		"a flag repeated that the plan was made with": {between: func(*memWorld, string) {}, diffFlags: []string{"--prune"},
			flags: []string{"--prune"}, applied: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w, f := synced(t)
			plan := filepath.Join(w.dir, "plan.json")
			_, errOut := w.mustRun(2, append([]string{"diff", "-f", f, "--out", plan}, tc.diffFlags...)...)
			if !strings.Contains(errOut, "Saved the plan to "+plan) {
				t.Errorf("diff --out says:\n%s", errOut)
			}
			tc.between(w, f)
			reads, writes := w.prefect.reads, len(w.prefect.writes)
			code, out, errOut := w.run(append([]string{"sync", "-f", f, "--plan", plan, "--yes"}, tc.flags...)...)
			if code != tc.code {
				t.Fatalf("sync --plan: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			for _, want := range tc.want {
				want = strings.NewReplacer("{plan}", plan, "{file}", f).Replace(want)
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			got := *w.prefect.pools["cpu"].ConcurrencyLimit
			if tc.applied != (got == 5) {
				t.Errorf("cpu's limit is %d after sync --plan (applied: %v)", got, tc.applied)
			}
			if !tc.applied && len(w.prefect.writes) != writes {
				t.Errorf("a refused plan wrote: %v", w.prefect.writes[writes:])
			}
			if tc.code != 0 && strings.Contains(errOut, "nothing was read") && w.prefect.reads != reads {
				t.Errorf("a plan refused before reading read the server")
			}
		})
	}
}

func TestSyncSavedPlanRejectsOtherDocuments(t *testing.T) {
	w, f := synced(t)
	for name, doc := range map[string]string{
		"not JSON":    "changes: []",
		"a JSON plan": `{"version": 1, "set": "team", "changes": []}`,
		"a newer one": `{"kind": "prefect-apply/saved-plan", "version": 2}`,
	} {
		t.Run(name, func(t *testing.T) {
			p := w.write("plan.json", doc)
			code, _, errOut := w.run("sync", "-f", f, "--plan", p, "--yes")
			if code != 1 || !strings.Contains(errOut, "plan.json") {
				t.Errorf("exit %d:\n%s", code, errOut)
			}
		})
	}
}

const secretFile = `set: team
kubernetes:
  namespace: prefect
  resources:
    - apiVersion: v1
      kind: Namespace
      metadata:
        name: prefect
  secrets:
    - name: auth
      keys:
        auth-string:
          fromEnv: AUTH
pools:
  - name: cpu
    type: process
`

// The saved plan holds no secret value, in clear or base64, and a value
// changed in the environment after the plan was made is refused.
func TestSavedPlanSecrets(t *testing.T) {
	const canary = "admin:CANARY-cli-3d7e"
	w := newMemWorld(t)
	w.vars["AUTH"] = canary
	f := w.write("pools.yaml", secretFile)
	plan := filepath.Join(w.dir, "plan.json")
	w.mustRun(2, "diff", "-f", f, "--out", plan)
	raw, err := os.ReadFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{canary, base64.StdEncoding.EncodeToString([]byte(canary))} {
		if strings.Contains(string(raw), bad) {
			t.Fatalf("plan.json holds %q:\n%s", bad, raw)
		}
	}
	if !strings.Contains(string(raw), `"auth-string": "`) {
		t.Errorf("plan.json has no digest for the secret:\n%s", raw)
	}
	if info, _ := os.Stat(plan); info.Mode().Perm() != 0o600 {
		t.Errorf("plan.json mode %v", info.Mode().Perm())
	}

	w.vars["AUTH"] = "admin:rotated"
	_, errOut := w.mustRun(1, "sync", "-f", f, "--plan", plan, "--yes")
	if want := `Secret "prefect/auth": the value of data.auth-string differs from the one the plan was made with`; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	if len(w.kube.objects) != 0 || len(w.prefect.writes) != 0 {
		t.Errorf("a refused plan wrote: %v %v", w.kube.objects, w.prefect.writes)
	}

	w.vars["AUTH"] = canary
	w.mustRun(0, "sync", "-f", f, "--plan", plan, "--yes")
	if len(w.kube.objects) != 2 || len(w.prefect.pools) != 1 {
		t.Errorf("after sync --plan: %d objects, %d pools", len(w.kube.objects), len(w.prefect.pools))
	}
	// A Kubernetes object changed since: its resourceVersion moved.
	w.mustRun(0, "diff", "-f", f, "--out", plan)
	for k, o := range w.kube.objects {
		if k.Kind == "Namespace" {
			o.SetLabels(map[string]string{"team": "data", "app.kubernetes.io/managed-by": "prefect-apply", "prefect-apply.io/set": "team"})
			o.SetResourceVersion("99")
		}
	}
	_, errOut = w.mustRun(1, "sync", "-f", f, "--plan", plan, "--yes")
	if want := `Namespace "prefect": changed since the plan was made (resourceVersion `; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
}
