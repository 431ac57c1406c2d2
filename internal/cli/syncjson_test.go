package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/render"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// refusingPrefect is a memPrefect that refuses to create one pool, echoing
// the credential in its error as a careless server might.
type refusingPrefect struct {
	*memPrefect
	pool, echo string
}

func (r *refusingPrefect) CreatePool(ctx context.Context, p *state.Pool) error {
	if p.Name == r.pool {
		return fmt.Errorf("creating work pool %q: 422 Unprocessable Entity: bad request from key %s", p.Name, r.echo)
	}
	return r.memPrefect.CreatePool(ctx, p)
}

const threePools = `set: team
pools:
  - name: cpu
    type: process
  - name: gpu
    type: process
    queues:
      - {name: urgent, priority: 2}
  - name: mem
    type: process
`

// decodeOne decodes stdout as exactly one JSON document.
func decodeOne(t *testing.T, out string) render.SyncDocument {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var doc render.SyncDocument
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not a sync document: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one document:\n%s", out)
	}
	return doc
}

// sync -o json prints one document: the plan and each change's result, a
// failed change's error masked; progress stays on stderr.
func TestSyncJSONResults(t *testing.T) {
	const key = "pnu_0123456789abcdefghijklmnopqrstuv"
	w := newMemWorld(t)
	w.vars["PREFECT_API_KEY"] = key
	refusing := &refusingPrefect{memPrefect: w.prefect, pool: "gpu", echo: key}
	env := w.env()
	env.NewPrefect = func(prefect.Connection) (PrefectClient, error) { return refusing, nil }
	f := w.write("pools.yaml", threePools)

	ios, _, out, errOut := Test()
	if code := Run(context.Background(), ios, env, []string{"sync", "-f", f, "--yes", "-o", "json"}); code != ExitFailure {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if strings.Contains(out.String(), key) || strings.Contains(errOut.String(), key) {
		t.Errorf("the credential is printed:\n%s\n%s", out, errOut)
	}
	doc := decodeOne(t, out.String())
	status := map[string]string{}
	for _, r := range doc.Results {
		status[render.Object(r.Key)] = string(r.Status)
		if r.Status != "applied" && r.Error == "" {
			t.Errorf("%s: %s without an error", render.Object(r.Key), r.Status)
		}
	}
	want := map[string]string{`work pool "cpu"`: "applied", `work pool "gpu"`: "failed", `work pool "mem"`: "applied",
		`work queue "urgent" in pool "gpu"`: "skipped"}
	for obj, s := range want {
		if status[obj] != s {
			t.Errorf("%s: %q, want %q (results %v)", obj, status[obj], s, status)
		}
	}
	if len(doc.Results) != len(want) || doc.ResultSummary != (render.ResultSummaryJSON{Applied: 2, Failed: 1, Skipped: 1}) {
		t.Errorf("%d results, summary %+v", len(doc.Results), doc.ResultSummary)
	}
	if len(doc.Changes) == 0 || doc.Refused != "" || doc.InventoryError != "" {
		t.Errorf("changes %d, refused %q, inventoryError %q", len(doc.Changes), doc.Refused, doc.InventoryError)
	}
	if !strings.Contains(errOut.String(), `work pool "gpu": create failed`) || !strings.Contains(errOut.String(), "Sync: 2 applied, 1 failed, 1 skipped.") {
		t.Errorf("progress is not on stderr:\n%s", errOut)
	}

	// Applied again, the failed pool is all that is left; without the
	// failure, it converges, and then has nothing to apply.
	refusing.pool = ""
	out2, _ := w.mustRun(0, "sync", "-f", f, "--yes", "-o", "json")
	if doc := decodeOne(t, out2); doc.ResultSummary.Failed+doc.ResultSummary.Skipped != 0 || doc.ResultSummary.Applied != 2 {
		t.Errorf("second sync: %+v", doc.ResultSummary)
	}
	out3, _ := w.mustRun(0, "sync", "-f", f, "--yes", "-o", "json")
	if doc := decodeOne(t, out3); doc.Results == nil || len(doc.Results) != 0 || doc.Summary.Changes {
		t.Errorf("in sync: results %v, summary %+v", doc.Results, doc.Summary)
	}
}

// A plan sync refuses still yields one document: the plan, no results,
// and the reason, which stderr gives too.
func TestSyncJSONRefused(t *testing.T) {
	w := newMemWorld(t)
	f := w.write("pools.yaml", threePools)
	// Not confirmed: stdin is not a terminal and there is no --yes.
	code, out, errOut := w.run("sync", "-f", f, "-o", "json")
	doc := decodeOne(t, out)
	if code != ExitFailure || len(doc.Results) != 0 || doc.Results == nil || !strings.Contains(doc.Refused, "rerun with --yes") || len(doc.Changes) == 0 {
		t.Errorf("not confirmed: exit %d, results %v, refused %q", code, doc.Results, doc.Refused)
	}
	if !strings.Contains(errOut, "Error: "+doc.Refused) {
		t.Errorf("stderr does not give the reason %q:\n%s", doc.Refused, errOut)
	}
	if len(w.prefect.pools) != 0 {
		t.Errorf("a refused sync created %d pools", len(w.prefect.pools))
	}
	w.mustRun(0, "sync", "-f", f, "--yes")
	retyped := w.write("retyped.yaml", strings.Replace(threePools, "name: mem\n    type: process", "name: mem\n    type: kubernetes", 1))
	code, rout, rerr := w.run("sync", "-f", retyped, "--yes", "-o", "json")
	if doc := decodeOne(t, rout); code != ExitFailure || len(doc.Results) != 0 || !strings.Contains(doc.Refused, "--allow-replace") ||
		!strings.Contains(rerr, "Error: "+doc.Refused) {
		t.Errorf("replace: exit %d, results %v, refused %q\n%s", code, doc.Results, doc.Refused, rerr)
	}

	// Asked at a terminal and not confirmed: the plan is shown on stderr,
	// the document on stdout says so.
	ios, in, tout, terr := Test()
	ios.InTTY = true
	in.WriteString("no\n")
	if code := Run(context.Background(), ios, w.env(), []string{"sync", "-f", retyped, "--allow-replace", "-o", "json"}); code != ExitFailure {
		t.Fatalf("exit %d", code)
	}
	if doc := decodeOne(t, tout.String()); doc.Refused != errCancelled.Error() {
		t.Errorf("refused %q", doc.Refused)
	}
	if !strings.Contains(terr.String(), "Apply these changes?") || !strings.Contains(terr.String(), `work pool "mem"`) || bytes.Contains(tout.Bytes(), []byte("Apply these")) {
		t.Errorf("stdout:\n%s\nstderr:\n%s", tout, terr)
	}
	if strings.Contains(terr.String(), "Error:") {
		t.Errorf("a cancelled sync prints an error:\n%s", terr)
	}
}
