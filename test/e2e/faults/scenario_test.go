package faults

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
	"github.com/prefect-apply/prefect-apply/test/faultproxy"
)

// runScenario is one seed of one fault kind, on a set of its own: syncs of
// revision 1 then revision 2 of the file under faults, diffs in every
// output format under faults, then, faults off, one sync that must
// converge, a diff that must exit 0, and the direct checks.
func runScenario(t *testing.T, w *world, fig *figures, kind faultproxy.Kind, seed uint64, set settings) {
	setName := setName(kind, seed)
	h := clitest.New(t, nil)
	rate := rateFor(seed)
	px := w.startProxies(t, h.Dir, kind, seed, rate)
	h.Vars = map[string]string{
		"PREFECT_API_URL":         px.prefect.URL() + "/api",
		"PREFECT_API_AUTH_STRING": w.auth,
		"KUBECONFIG":              px.kubeconfig,
	}
	var timeouts []string
	if kind == faultproxy.Hang {
		// A hang costs this much instead of the default 60 s.
		h.Vars["PREFECT_API_REQUEST_TIMEOUT"] = prefectTimeout
		timeouts = []string{"--kube-request-timeout", kubeTimeout.String()}
	}
	files := map[int]string{}
	contents := map[int]string{}
	for _, rev := range []int{1, 2} {
		contents[rev] = poolsFile(setName, set.pools, rev)
		files[rev] = filepath.Join(h.Dir, fmt.Sprintf("pools-r%d.yaml", rev))
		if err := os.WriteFile(files[rev], []byte(contents[rev]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var trail []string
	run := func(rev int, args ...string) (int, string, string) {
		h.Vars[secretEnv] = w.secretValue(rev)
		began := time.Now()
		code, out, errOut := h.Run(append(append(args, timeouts...), "-f", files[rev])...)
		trail = append(trail, fmt.Sprintf("%s r%d %s", strings.Join(args, " "), rev, time.Since(began).Round(100*time.Millisecond)))
		return code, out, errOut
	}
	fig.seeds++
	sync := func(rev int) {
		t.Helper()
		np, nk := len(px.prefect.Forwarded()), len(px.kube.Forwarded())
		code, out, errOut := run(rev, "sync", "--yes")
		fig.syncRuns++
		r := checkSync(code, out, errOut)
		if r.outcome == failedBeforeApplying {
			// The report says nothing was applied: no write of a pool,
			// queue or Kubernetes object reached a server.
			if w := writes(px.prefect.Forwarded()[np:], px.kube.Forwarded()[nk:]); len(w) > 0 {
				r = syncCheck{outcome: bad, summary: fmt.Sprintf("%s; yet %d write(s) reached the servers: %s", r.summary, len(w), clip(strings.Join(w, ", "), 300))}
			}
		}
		trail[len(trail)-1] += ": " + r.summary
		for _, l := range r.failed {
			trail = append(trail, "    "+clip(l, 240))
		}
		switch r.outcome {
		case succeeded:
			fig.syncOK++
		case failedWithReport, failedBeforeApplying:
			fig.syncFailedCleanly++
		default:
			fig.syncBad++
			t.Errorf("sync of revision %d under %s faults: %s\nstdout:\n%s\nstderr:\n%s", rev, kind, r.summary, out, errOut)
		}
	}
	diff := func(format string, args ...string) {
		t.Helper()
		code, out, errOut := run(2, append([]string{"diff"}, args...)...)
		fig.diffRuns++
		trail[len(trail)-1] += fmt.Sprintf(": exit %d", code)
		if msg := checkDiff(format, code, out, errOut); msg != "" {
			fig.diffBad++
			t.Errorf("diff %s under %s faults: %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), kind, msg, out, errOut)
		}
	}

	// Revision 1 under faults; then revision 2's plan (every pool and
	// queue, the RBAC objects and the Secrets' values change) as JSON
	// and saved; then revision 2 under faults, and its plan again.
	plans := []string{filepath.Join(h.Dir, "plan-before.json"), filepath.Join(h.Dir, "plan-after.json")}
	for i := 0; i < set.syncsPerRevision; i++ {
		sync(1)
	}
	diff("json", "-o", "json")
	diff("text", "--out", plans[0])
	for i := 0; i < set.syncsPerRevision; i++ {
		sync(2)
	}
	diff("markdown", "-o", "markdown")
	diff("text", "--out", plans[1])

	// The faults stop: one sync converges, and diff finds nothing (with the
	// default request timeout: the machine may be busy).
	px.setRate(0)
	delete(h.Vars, "PREFECT_API_REQUEST_TIMEOUT")
	timeouts = nil
	counts := px.counts()
	for _, n := range counts {
		fig.injected += n
	}
	code, out, errOut := run(2, "sync", "--yes")
	converged := code == 0
	if !converged {
		t.Errorf("sync after the faults stopped: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, out, errOut = run(2, "diff")
	if code != 0 {
		converged = false
		t.Errorf("diff after the converging sync: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if converged {
		fig.converged++
	}

	// The servers, read directly.
	began := time.Now()
	v := verify(t, w, setName, contents[2], w.secretValue(2))
	trail = append(trail, fmt.Sprintf("verify %s", time.Since(began).Round(100*time.Millisecond)))
	fig.lost += len(v.lost)
	fig.duplicated += len(v.duplicated)
	fig.mixed += len(v.mixed)
	for _, group := range []struct {
		what  string
		items []string
	}{{"lost", v.lost}, {"duplicated", v.duplicated}, {"left with other values than the file's", v.mixed}} {
		if len(group.items) > 0 {
			t.Errorf("%d object(s) %s:\n  %s", len(group.items), group.what, strings.Join(group.items, "\n  "))
		}
	}

	// No secret in anything prefect-apply printed or saved.
	searched := h.Output.String()
	for _, f := range plans {
		if raw, err := os.ReadFile(f); err == nil {
			searched += string(raw)
		}
	}
	if hits := canaryHits(searched, w.canaries()); len(hits) > 0 {
		for c, n := range hits {
			fig.canaryHits += n
			t.Errorf("a secret (%.12s...) appears %d time(s) in prefect-apply's output or saved plan", c, n)
		}
	}

	scope := "every request"
	if kubeWritesOnly(kind, seed) {
		scope = "writes only"
	}
	proto := "HTTP/1.1"
	if kubeHTTP2(kind, seed) {
		proto = "HTTP/2.0"
	}
	scope += ", " + proto
	for _, e := range px.kube.Events() {
		if e.Proto != proto {
			t.Errorf("%s came to the Kubernetes proxy over %s, want %s", e, e.Proto, proto)
			break
		}
	}
	t.Logf("rate %.2f (Kubernetes: %s), faults %s (Prefect %d of %d requests, Kubernetes %d of %d); converged %v\n  %s",
		rate, scope, faultproxy.Summary(counts), px.prefect.Injected(), px.prefect.Requests(),
		px.kube.Injected(), px.kube.Requests(), converged, strings.Join(trail, "\n  "))

	if errs := append(px.prefect.ForwardErrors(), px.kube.ForwardErrors()...); len(errs) > 0 {
		t.Logf("requests the proxies could not forward (not counted as faults):\n  %s", strings.Join(errs, "\n  "))
	}
	if t.Failed() || os.Getenv("FAULTS_VERBOSE") == "1" {
		t.Logf("faults injected:\n  Prefect: %s\n  Kubernetes: %s",
			strings.Join(px.prefect.Faults(), "\n    "), strings.Join(px.kube.Faults(), "\n    "))
	}
}

// writes lists the writes of pools, queues and Kubernetes objects among
// forwarded requests (not the inventory's variables, not reads, not dry
// runs).
func writes(prefect, kube []faultproxy.Event) []string {
	var out []string
	for _, e := range prefect {
		if e.Method != http.MethodGet && !strings.HasSuffix(e.Path, "/filter") && strings.HasPrefix(e.Path, "/api/work_pools/") {
			out = append(out, e.Method+" "+e.Path)
		}
	}
	for _, e := range kube {
		if e.Method != http.MethodGet && !strings.Contains(e.Path, "dryRun=") {
			out = append(out, e.Method+" "+e.Path)
		}
	}
	return out
}

// canaryHits counts each canary's occurrences in text.
func canaryHits(text string, canaries []string) map[string]int {
	hits := map[string]int{}
	for _, c := range canaries {
		if n := strings.Count(text, c); n > 0 {
			hits[c] = n
		}
	}
	return hits
}

// checkDiff accepts diff's exits under faults: 0 or 2 with a plan in the
// requested format, 1 with an error.
func checkDiff(format string, code int, out, errOut string) string {
	if msg := panicked(out + errOut); msg != "" {
		return msg
	}
	switch code {
	case 0, 2:
		switch format {
		case "json":
			var doc map[string]any
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				return fmt.Sprintf("exit %d with JSON that does not parse: %v", code, err)
			}
		case "markdown":
			if !strings.Contains(out, "#") {
				return fmt.Sprintf("exit %d without a Markdown plan", code)
			}
		default:
			if !strings.Contains(out, "Plan: ") && !strings.Contains(out, "No changes") {
				return fmt.Sprintf("exit %d without a plan", code)
			}
		}
		return ""
	case 1:
		if !strings.Contains(errOut, "Error: ") {
			return "exit 1 without an error message"
		}
		return ""
	}
	return fmt.Sprintf("exit %d: diff exits 0, 1 or 2", code)
}
