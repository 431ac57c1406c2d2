// Package savedplan tests diff --out and sync --plan end to end against a
// real Prefect server (and, for Secrets, a real kube-apiserver).
package savedplan

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

// world runs prefect-apply in-process against one Prefect server.
type world struct {
	*clitest.Harness
	prefect *servers.Prefect
}

func newWorld(t *testing.T, p *servers.Prefect, vars map[string]string) *world {
	w := &world{Harness: clitest.New(t, map[string]string{"PREFECT_API_URL": p.URL}), prefect: p}
	maps.Copy(w.Vars, vars)
	return w
}

// example writes examples/pools.yaml with replacements (old, new, ...; each
// must apply) as pools.yaml and returns its path.
func (w *world) example(replace ...string) string {
	w.T.Helper()
	return w.Example("pools.yaml", replace...)
}

// api sends a request to the Prefect API (servers.Prefect.MustRequest).
func (w *world) api(method, path string, body, out any) {
	w.T.Helper()
	w.prefect.MustRequest(w.T, method, path, body, out)
}

type pool struct {
	Name             string  `json:"name"`
	Description      *string `json:"description"`
	ConcurrencyLimit *int    `json:"concurrency_limit"`
	Updated          string  `json:"updated"`
}

func (w *world) pool(name string) pool {
	w.T.Helper()
	var p pool
	w.api("GET", "/work_pools/"+name, nil, &p)
	return p
}

func (w *world) poolNames() []string {
	w.T.Helper()
	var ps []pool
	w.api("POST", "/work_pools/filter", map[string]any{}, &ps)
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

// reset deletes every pool and variable, so that tests can share a server
// (starting one takes most of a test's time).
func (w *world) reset() {
	w.T.Helper()
	for _, name := range w.poolNames() {
		w.api("DELETE", "/work_pools/"+name, nil, nil)
	}
	var vars []struct {
		Name string `json:"name"`
	}
	w.api("POST", "/variables/filter", map[string]any{}, &vars)
	for _, v := range vars {
		w.api("DELETE", "/variables/name/"+v.Name, nil, nil)
	}
}

// TestSavedPlans runs the Prefect-only cases against one server.
func TestSavedPlans(t *testing.T) {
	p := servers.StartPrefect(t, servers.PrefectOptions{})
	for name, test := range map[string]func(*testing.T, *servers.Prefect){
		"applies":                       savedPlanApplies,
		"refuses an out-of-band change": savedPlanRefusesOutOfBandChange,
		"refuses other file content and new objects": savedPlanRefusesOtherFileAndNewObjects,
	} {
		t.Run(name, func(t *testing.T) {
			newWorld(t, p, nil).reset()
			test(t, p)
		})
	}
}

func limit(p pool) string {
	if p.ConcurrencyLimit == nil {
		return "none"
	}
	return fmt.Sprint(*p.ConcurrencyLimit)
}

// A plan saved on an empty server creates everything when applied; a plan
// saved later updates exactly what it said, even though a worker polled
// and heartbeat in between (Prefect moves `updated` on every poll).
func savedPlanApplies(t *testing.T, p *servers.Prefect) {
	w := newWorld(t, p, nil)
	f := w.example()
	plan := filepath.Join(w.Dir, "plan.json")

	_, errOut := w.Must(2, "diff", "-f", f, "--skip-kubernetes", "--out", plan)
	if !strings.Contains(errOut, "Saved the plan to "+plan) {
		t.Errorf("diff --out says:\n%s", errOut)
	}
	if got := w.poolNames(); len(got) != 0 {
		t.Fatalf("diff --out created pools: %v", got)
	}
	out := w.MustRun(0, "sync", "-f", f, "--plan", plan, "--yes")
	if !strings.Contains(out, `work pool "gpu-tasks": created`) {
		t.Errorf("sync --plan:\n%s", out)
	}
	w.MustRun(0, "diff", "-f", f, "--skip-kubernetes")

	f = w.example("concurrencyLimit: 4", "concurrencyLimit: 5")
	w.MustRun(2, "diff", "-f", f, "--skip-kubernetes", "--out", plan)
	queueUpdated := func() string {
		var q pool
		w.api("GET", "/work_pools/cpu-intensive/queues/default", nil, &q)
		return q.Updated
	}
	before := queueUpdated()
	w.api("POST", "/work_pools/cpu-intensive/workers/heartbeat", map[string]any{"name": "worker-1", "heartbeat_interval_seconds": 30}, nil)
	w.api("POST", "/work_pools/cpu-intensive/get_scheduled_flow_runs", map[string]any{}, nil)
	// The server records the poll in the background.
	deadline := time.Now().Add(15 * time.Second)
	for queueUpdated() == before && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if queueUpdated() == before {
		t.Errorf("the worker's poll did not move the queue's updated (%s): this test no longer shows that a poll is not a change", before)
	}
	out = w.MustRun(0, "sync", "-f", f, "--plan", plan, "--yes")
	if !strings.Contains(out, `work pool "cpu-intensive": updated`) {
		t.Errorf("sync --plan:\n%s", out)
	}
	if got := limit(w.pool("cpu-intensive")); got != "5" {
		t.Errorf("cpu-intensive's limit is %s after sync --plan, want 5", got)
	}
	w.MustRun(0, "diff", "-f", f, "--skip-kubernetes")
}

// A pool changed out of band after the plan was saved: sync --plan names
// it and changes nothing, not even the pool the plan updates.
func savedPlanRefusesOutOfBandChange(t *testing.T, p *servers.Prefect) {
	w := newWorld(t, p, nil)
	f := w.example()
	w.MustRun(0, "sync", "-f", f, "--skip-kubernetes", "--yes")
	f = w.example("concurrencyLimit: 4", "concurrencyLimit: 5")
	plan := filepath.Join(w.Dir, "plan.json")
	w.MustRun(2, "diff", "-f", f, "--skip-kubernetes", "--out", plan)

	w.api("PATCH", "/work_pools/memory-intensive", map[string]any{"concurrency_limit": 9}, nil)
	_, errOut := w.Must(1, "sync", "-f", f, "--plan", plan, "--yes")
	for _, want := range []string{`work pool "memory-intensive": changed since the plan was made`, plan + " is out of date: 1 object above changed", "nothing was changed"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("sync --plan stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, `"cpu-intensive"`) {
		t.Errorf("an unchanged pool was named:\n%s", errOut)
	}
	if got := limit(w.pool("cpu-intensive")); got != "4" {
		t.Errorf("cpu-intensive's limit is %s after a refused plan, want 4", got)
	}
	if got := limit(w.pool("memory-intensive")); got != "9" {
		t.Errorf("memory-intensive's limit is %s after a refused plan, want the out-of-band 9", got)
	}

	// A new plan shows both and applies.
	w.MustRun(2, "diff", "-f", f, "--skip-kubernetes", "--out", plan)
	w.MustRun(0, "sync", "-f", f, "--plan", plan, "--yes")
	if a, b := limit(w.pool("cpu-intensive")), limit(w.pool("memory-intensive")); a != "5" || b != "2" {
		t.Errorf("limits after the new plan: %s, %s", a, b)
	}
}

// A plan made from other file content is refused before anything is read;
// a plan whose pool appeared on the server since is refused too.
func savedPlanRefusesOtherFileAndNewObjects(t *testing.T, p *servers.Prefect) {
	w := newWorld(t, p, nil)
	f := w.example()
	plan := filepath.Join(w.Dir, "plan.json")
	w.MustRun(2, "diff", "-f", f, "--skip-kubernetes", "--out", plan)

	f = w.example("description: Flows that need a GPU", "description: Flows that need a GPU, soon")
	_, errOut := w.Must(1, "sync", "-f", f, "--plan", plan, "--yes")
	if want := plan + " was made from a different " + f; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	if got := w.poolNames(); len(got) != 0 {
		t.Fatalf("a refused plan created pools: %v", got)
	}

	f = w.example()
	w.api("POST", "/work_pools/", map[string]any{"name": "gpu-tasks", "type": "kubernetes"}, nil)
	_, errOut = w.Must(1, "sync", "-f", f, "--plan", plan, "--yes")
	if want := `work pool "gpu-tasks": created since the plan was made; the saved plan creates it, now it leaves it alone, not managed by the set`; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	if got := w.poolNames(); len(got) != 1 {
		t.Errorf("a refused plan created pools: %v", got)
	}
}

// With the cluster: the saved plan holds no trace of the Secret's value (a
// canary, in clear or base64), applies it, and is refused when the value
// in the environment changed or the Secret changed in the cluster.
func TestSavedPlanSecretsEndToEnd(t *testing.T) {
	const canary = "admin:CANARY-savedplan-b41d"
	k := servers.StartKube(t)
	p := servers.StartPrefect(t, servers.PrefectOptions{})
	w := newWorld(t, p, map[string]string{"PREFECT_API_AUTH_STRING": canary, "KUBECONFIG": k.Kubeconfig})
	w.NeverPrints(canary, base64.StdEncoding.EncodeToString([]byte(canary)))
	cs := k.Clientset(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	f := w.example()
	plan := filepath.Join(w.Dir, "plan.json")
	w.MustRun(2, "diff", "-f", f, "--out", plan)
	noCanary := func() {
		t.Helper()
		raw, err := os.ReadFile(plan)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{canary, base64.StdEncoding.EncodeToString([]byte(canary)), "CANARY"} {
			if bytes.Contains(raw, []byte(bad)) {
				t.Fatalf("%s holds %q", plan, bad)
			}
		}
		if !bytes.Contains(raw, []byte(`"auth-string": "`)) {
			t.Errorf("%s has no digest of the Secret's value", plan)
		}
	}
	noCanary()

	// The value in the environment changed after the plan was made.
	w.Vars["PREFECT_API_AUTH_STRING"] = "admin:rotated"
	_, errOut := w.Must(1, "sync", "-f", f, "--plan", plan, "--yes")
	if want := `Secret "prefect/prefect-basic-auth": the value of data.auth-string differs from the one the plan was made with`; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "prefect", metav1.GetOptions{}); err == nil {
		t.Fatal("a refused plan created the namespace")
	}

	w.Vars["PREFECT_API_AUTH_STRING"] = canary
	w.MustRun(0, "sync", "-f", f, "--plan", plan, "--yes")
	sec, err := cs.CoreV1().Secrets("prefect").Get(ctx, "prefect-basic-auth", metav1.GetOptions{})
	if err != nil || string(sec.Data["auth-string"]) != canary {
		t.Fatalf("the Secret after sync --plan: %v", err)
	}
	w.MustRun(0, "diff", "-f", f)

	// An in-sync plan, then the Secret changed in the cluster.
	w.MustRun(0, "diff", "-f", f, "--out", plan)
	noCanary()
	sec.Labels["team"] = "data"
	if _, err := cs.CoreV1().Secrets("prefect").Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, errOut = w.Must(1, "sync", "-f", f, "--plan", plan, "--yes")
	if want := `Secret "prefect/prefect-basic-auth": changed since the plan was made (resourceVersion `; !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
}
