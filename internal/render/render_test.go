package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/apply"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func samplePlan() *plan.Plan {
	sa := state.Key{System: state.Kubernetes, Kind: "ServiceAccount", Namespace: "prefect", Name: "prefect-worker"}
	sec := state.Key{System: state.Kubernetes, Kind: "Secret", Namespace: "prefect", Name: "prefect-basic-auth"}
	return &plan.Plan{Version: plan.FormatVersion, Set: "gbif", Changes: []plan.Change{
		{Key: sa, Action: plan.Create, Fields: []plan.FieldChange{{Path: "metadata.name", New: "prefect-worker", HasNew: true}}},
		{Key: sec, Action: plan.Update, Fields: []plan.FieldChange{{Path: "data.auth-string", Old: plan.Masked, New: plan.Masked, HasOld: true, HasNew: true, Sensitive: true}}},
		{Key: state.PoolKey("cpu-intensive"), Action: plan.Update, Fields: []plan.FieldChange{
			{Path: "concurrencyLimit", Old: 4, New: 6, HasOld: true, HasNew: true},
			{Path: "baseJobTemplate.variables.properties.image.default", Old: "a:1", New: "b:2", HasOld: true, HasNew: true},
			{Path: "description", Old: "old", HasOld: true},
		}},
		{Key: state.PoolKey("memory-intensive"), Action: plan.Replace, Reason: "the type of a work pool cannot change (kubernetes → process)",
			Fields: []plan.FieldChange{{Path: "type", Old: "kubernetes", New: "process", HasOld: true, HasNew: true}}},
		{Key: state.PoolKey("gbif-automations"), Action: plan.NoOp},
		{Key: state.QueueKey("gpu-tasks", "default"), Action: plan.Create, Implicit: true,
			Fields: []plan.FieldChange{{Path: "priority", Old: 1, New: 2, HasOld: true, HasNew: true}}},
		{Key: state.QueueKey("gpu-tasks", "old"), Action: plan.Orphan, Reason: "kept: --prune deletes it"},
		{Key: state.PoolKey("gone"), Action: plan.Delete},
	}}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestGoldenRenderings(t *testing.T) {
	for name, write := range map[string]func(*bytes.Buffer, *plan.Plan) error{
		"plan.txt":       func(b *bytes.Buffer, p *plan.Plan) error { return Text(b, p, Style{}) },
		"plan-color.txt": func(b *bytes.Buffer, p *plan.Plan) error { return Text(b, p, Style{Color: true}) },
		"plan.json":      func(b *bytes.Buffer, p *plan.Plan) error { return JSON(b, p) },
		"plan.md":        func(b *bytes.Buffer, p *plan.Plan) error { return Markdown(b, p) },
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := write(&b, samplePlan()); err != nil {
				t.Fatal(err)
			}
			golden(t, name, b.String())
		})
	}
}

func TestJSONIsVersionedAndCounts(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, samplePlan()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int
		Set     string
		Summary map[string]any
		Changes []json.RawMessage
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != plan.FormatVersion || doc.Set != "gbif" || len(doc.Changes) != 8 || doc.Summary["update"] != 2.0 || doc.Summary["changes"] != true {
		t.Errorf("document = %+v", doc)
	}
}

func TestNoChanges(t *testing.T) {
	p := &plan.Plan{Version: 1, Set: "s", Changes: []plan.Change{{Key: state.PoolKey("a"), Action: plan.NoOp}}}
	var text, md bytes.Buffer
	_ = Text(&text, p, Style{})
	_ = Markdown(&md, p)
	if !strings.Contains(text.String(), "No changes") || !strings.Contains(md.String(), "No changes") {
		t.Errorf("text %q, markdown %q", text.String(), md.String())
	}
}

// A plan with thousands of changes still fits in one GitHub comment and
// says what it left out.
func TestMarkdownStaysUnderGitHubLimit(t *testing.T) {
	p := &plan.Plan{Version: 1, Set: "big"}
	for i := 0; i < 3000; i++ {
		p.Changes = append(p.Changes, plan.Change{Key: state.PoolKey(fmt.Sprintf("pool-%04d", i)), Action: plan.Update,
			Fields: []plan.FieldChange{{Path: "description", Old: strings.Repeat("o", 40), New: strings.Repeat("n", 40), HasOld: true, HasNew: true}}})
	}
	var b bytes.Buffer
	if err := Markdown(&b, p); err != nil {
		t.Fatal(err)
	}
	if b.Len() > MarkdownLimit {
		t.Errorf("markdown is %d characters, over %d", b.Len(), MarkdownLimit)
	}
	if !strings.Contains(b.String(), "were left out") {
		t.Errorf("no truncation notice at the end: ...%s", b.String()[max(0, b.Len()-300):])
	}
}

func TestResults(t *testing.T) {
	results := []apply.Result{
		{Key: state.PoolKey("a"), Action: plan.Create, Status: apply.Applied, Duration: 1500 * time.Microsecond},
		{Key: state.PoolKey("b"), Action: plan.Update, Status: apply.Failed, Error: `updating work pool "b": 422 Unprocessable Entity: bad`},
		{Key: state.QueueKey("b", "q"), Action: plan.Create, Status: apply.Skipped, Error: `not applied: it depends on WorkPool "b", which was not applied`},
	}
	var lines []string
	for _, r := range results {
		lines = append(lines, ResultLine(r, Style{}))
	}
	lines = append(lines, ResultSummary(results))
	golden(t, "results.txt", strings.Join(lines, "\n")+"\n")
	if ResultSummary(results[:1]) != "Sync: 1 applied, 0 failed, 0 skipped." {
		t.Errorf("summary = %q", ResultSummary(results[:1]))
	}
}

// A failed sync's document: the plan, then some changes applied, one
// failed (its message masked) and one skipped.
func TestGoldenSyncResults(t *testing.T) {
	results := []apply.Result{
		{Key: state.Key{System: state.Kubernetes, Kind: "ServiceAccount", Namespace: "prefect", Name: "prefect-worker"},
			Action: plan.Create, Status: apply.Applied, Duration: 12 * time.Millisecond},
		{Key: state.Key{System: state.Kubernetes, Kind: "Secret", Namespace: "prefect", Name: "prefect-basic-auth"},
			Action: plan.Update, Status: apply.Applied, Duration: 9400 * time.Microsecond},
		{Key: state.PoolKey("cpu-intensive"), Action: plan.Update, Status: apply.Failed, Duration: 31 * time.Millisecond,
			Error: `updating work pool "cpu-intensive": 422 Unprocessable Entity: base_job_template: token hunter2-hunter2 is not allowed`},
		{Key: state.PoolKey("memory-intensive"), Action: plan.Replace, Status: apply.Applied, Duration: 1250 * time.Millisecond},
		{Key: state.QueueKey("gpu-tasks", "default"), Action: plan.Create, Status: apply.Applied, Implicit: true, Duration: 7 * time.Millisecond},
		{Key: state.PoolKey("gone"), Action: plan.Delete, Status: apply.Skipped, Error: apply.ErrInterrupted.Error()},
	}
	mask := func(s string) string { return strings.ReplaceAll(s, "hunter2-hunter2", "[redacted]") }
	var b bytes.Buffer
	if err := SyncJSON(&b, samplePlan(), SyncRun{Results: results, Mask: mask,
		Recorded: errors.New("writing the inventory of set \"gbif\": 503 Service Unavailable")}); err != nil {
		t.Fatal(err)
	}
	golden(t, "sync-results.json", b.String())
	if strings.Contains(b.String(), "hunter2") {
		t.Error("the document holds a secret value")
	}
	var doc SyncDocument
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Changes) != 8 || len(doc.Results) != 6 || doc.ResultSummary != (ResultSummaryJSON{Applied: 4, Failed: 1, Skipped: 1}) || doc.Refused != "" {
		t.Errorf("document = %+v", doc)
	}
}

// A sync that refused the plan: the plan, no results, and why.
func TestSyncRefused(t *testing.T) {
	var b bytes.Buffer
	if err := SyncJSON(&b, samplePlan(), SyncRun{Refused: errors.New("the plan replaces 1 work pool; nothing was changed")}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if r, ok := doc["results"].([]any); !ok || len(r) != 0 || !strings.Contains(doc["refused"].(string), "replaces") {
		t.Errorf("results %v, refused %v", doc["results"], doc["refused"])
	}
	if _, ok := doc["inventoryError"]; ok {
		t.Error("inventoryError without an error")
	}
}
