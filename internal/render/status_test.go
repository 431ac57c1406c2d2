package render

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

var statusNow = time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC)

func ago(d time.Duration) *time.Time {
	t := statusNow.Add(-d)
	return &t
}

func num(n int) *int { return &n }

func sampleStatus() *StatusReport {
	return &StatusReport{File: "pools.yaml", Set: "gbif", Pools: []PoolStatus{
		{Name: "gbif-automations", Type: "kubernetes", State: StateReady, Workers: WorkerCount{Online: 2},
			LastHeartbeat: ago(12 * time.Second), LateRuns: num(0), Sync: InSync,
			Deployments: num(3), Runs: &state.RunCounts{Scheduled: 12, Pending: 1, Running: 2},
			Queues: []QueueStatus{{Name: "default", Priority: num(1), State: StateReady, LastPolled: ago(3 * time.Second), Sync: InSync,
				Deployments: num(3), Runs: &state.RunCounts{Scheduled: 12, Pending: 1, Running: 2}}}},
		{Name: "cpu-intensive", Type: "kubernetes", State: StateNotReady, Workers: WorkerCount{Online: 0, Offline: 1},
			LastHeartbeat: ago(3 * time.Hour), ConcurrencyLimit: num(4), LateRuns: num(7), Sync: Drift,
			Deployments: num(1), Runs: &state.RunCounts{Scheduled: 7}, RunsAtLeast: true,
			Queues: []QueueStatus{{Name: "default", Priority: num(1), State: StateNotReady, LastPolled: ago(3*time.Hour + 20*time.Minute), Sync: Drift,
				Deployments: num(1), Runs: &state.RunCounts{Scheduled: 7}}}},
		{Name: "gpu-tasks", Type: "kubernetes", State: StatePaused, ConcurrencyLimit: num(1), LateRuns: num(0), Sync: InSync,
			Queues: []QueueStatus{
				{Name: "urgent", Priority: num(1), State: StatePaused, ConcurrencyLimit: num(1), Sync: InSync},
				{Name: "default", Priority: num(2), State: StateNotReady, LastPolled: ago(50 * time.Hour)},
			}},
		{Name: "memory-intensive", Type: "kubernetes", State: StateMissing, Sync: Drift,
			Queues: []QueueStatus{{Name: "default", Priority: num(1), State: StateMissing, Sync: Drift}}},
	}}
}

func TestStatusGolden(t *testing.T) {
	for name, write := range map[string]func(*bytes.Buffer) error{
		"status.txt":       func(b *bytes.Buffer) error { return StatusText(b, sampleStatus(), statusNow, Style{}) },
		"status-color.txt": func(b *bytes.Buffer) error { return StatusText(b, sampleStatus(), statusNow, Style{Color: true}) },
		"status.json":      func(b *bytes.Buffer) error { return StatusJSON(b, sampleStatus()) },
		"status-nofile.txt": func(b *bytes.Buffer) error {
			r := sampleStatus()
			r.File, r.Set = "", ""
			for i := range r.Pools {
				r.Pools[i].Sync = ""
				for j := range r.Pools[i].Queues {
					r.Pools[i].Queues[j].Sync = ""
				}
			}
			return StatusText(b, r, statusNow, Style{})
		},
		"status-empty.json": func(b *bytes.Buffer) error { return StatusJSON(b, &StatusReport{}) },
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := write(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, name, b.String())
		})
	}
}

// The JSON document's field names are a contract: a change here is a
// change of version.
func TestStatusJSONShape(t *testing.T) {
	var b bytes.Buffer
	if err := StatusJSON(&b, sampleStatus()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int    `json:"version"`
		File    string `json:"file"`
		Set     string `json:"set"`
		Pools   []map[string]json.RawMessage
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != 1 || doc.File != "pools.yaml" || doc.Set != "gbif" || len(doc.Pools) != 4 {
		t.Fatalf("document: %+v", doc)
	}
	for _, k := range []string{"name", "type", "state", "workers", "lastHeartbeat", "concurrencyLimit", "lateRuns", "sync", "queues"} {
		if _, ok := doc.Pools[0][k]; !ok {
			t.Errorf("pool has no %q", k)
		}
	}
	if string(doc.Pools[3]["lateRuns"]) != "null" || string(doc.Pools[2]["lastHeartbeat"]) != "null" {
		t.Errorf("a missing pool's late runs and a never-seen heartbeat should be null: %s", b.String())
	}
}
