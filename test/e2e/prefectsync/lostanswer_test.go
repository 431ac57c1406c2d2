package prefectsync

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prefect-apply/prefect-apply/test/faultproxy"
)

// A create whose answer is lost (the connection reset, a proxy's 502, the
// answer cut off) is sent again. When the first attempt had made the
// object, the real server answers the repeat with 409, and sync counts the
// create as applied because the object matches the file: the sync
// succeeds, and every pool, queue and inventory variable exists once.
func TestCreateWhoseAnswerIsLost(t *testing.T) {
	p := server(t)
	e := newEnv(t, p, "lostanswer")
	f := e.example("pools.yaml")

	// Every other create draws a fault, so that a create's repeat goes
	// through; one change at a time keeps that order.
	var creates atomic.Int64
	px, err := faultproxy.Start(faultproxy.Options{
		Upstream: p.URL,
		Seed:     7,
		Rate:     1,
		Faults:   []faultproxy.Kind{faultproxy.Reset, faultproxy.Status502, faultproxy.CutOff},
		Eligible: func(r *http.Request) bool { return isCreate(r) && creates.Add(1)%2 == 1 },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	e.Vars["PREFECT_API_URL"] = px.URL() + "/api"
	e.sync(0, f, "--yes", "--concurrency", "1")

	lost, met := 0, 0
	for _, ev := range px.Events() {
		if ev.Fault != "" && ev.After && ev.Status < 300 {
			lost++ // made by the server, its answer lost
		}
	}
	for _, ev := range px.Forwarded() {
		if ev.Status == http.StatusConflict && ev.Fault == "" {
			met++
		}
	}
	if lost == 0 || met != lost {
		t.Errorf("%d creates made with their answer lost, %d repeats answered 409; want as many, at least one:\n  %s",
			lost, met, strings.Join(px.Faults(), "\n  "))
	}

	// Read directly: nothing left to do, nothing doubled.
	e.Vars["PREFECT_API_URL"] = p.URL
	e.diff(0, f)
	a := e.api()
	for _, pool := range examplePools {
		a.mustPool(e.pool(pool))
	}
	q := a.queues(e.pool("gpu-tasks"))
	if _, ok := q["urgent"]; len(q) != 2 || !ok {
		t.Errorf("queues of %s: %v, want default and urgent", e.pool("gpu-tasks"), keys(q))
	}
	t.Logf("%d creates made with their answer lost, each sent again and answered 409", lost)
}

// isCreate says whether r creates a pool, a queue or a variable.
func isCreate(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	p := r.URL.Path
	return p == "/api/work_pools/" || p == "/api/variables/" ||
		strings.HasPrefix(p, "/api/work_pools/") && strings.HasSuffix(p, "/queues")
}
