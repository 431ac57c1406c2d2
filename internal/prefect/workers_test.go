package prefect

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestListWorkers(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.EscapedPath() != "/api/work_pools/gpu%20tasks/workers/filter" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.EscapedPath())
		}
		writeJSON(w, 200, []map[string]any{
			{"name": "old", "last_heartbeat_time": "2026-11-26T19:00:00.123456Z", "heartbeat_interval_seconds": 30, "status": "OFFLINE"},
			{"name": "new", "last_heartbeat_time": "2026-11-26T20:00:00Z", "heartbeat_interval_seconds": nil, "status": "ONLINE"},
			{"name": "never", "last_heartbeat_time": nil, "status": "OFFLINE"},
		})
	}, Connection{})
	got, err := c.ListWorkers(context.Background(), "gpu tasks")
	if err != nil {
		t.Fatal(err)
	}
	want := []Worker{
		{Name: "new", LastHeartbeat: time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC), Status: "ONLINE"},
		{Name: "old", LastHeartbeat: time.Date(2026, 11, 26, 19, 0, 0, 123456000, time.UTC), HeartbeatInterval: 30, Status: "OFFLINE"},
		{Name: "never", Status: "OFFLINE"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if n := c.Stats()["POST work_pools/{name}/workers/filter"]; n != 1 {
		t.Errorf("%d requests", n)
	}
}

func TestCountLateRuns(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/api/flow_runs/count" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
		b := readBody(t, r)
		state := fmt.Sprint(b["flow_runs"])
		pools := fmt.Sprint(b["work_pools"])
		if state != "map[state:map[name:map[any_:[Late]]]]" || pools != "map[name:map[any_:[gpu]]]" {
			t.Errorf("filter: flow_runs %s, work_pools %s", state, pools)
		}
		writeJSON(w, 200, 7)
	}, Connection{})
	n, err := c.CountLateRuns(context.Background(), "gpu")
	if err != nil || n != 7 {
		t.Fatalf("CountLateRuns = %d, %v", n, err)
	}
}

func TestListQueueStatus(t *testing.T) {
	queue := func(id, pool, name string, prio int, status string) map[string]any {
		return map[string]any{"id": id, "work_pool_name": pool, "name": name, "priority": prio, "is_paused": status == "PAUSED",
			"concurrency_limit": nil, "status": status, "last_polled": nil}
	}
	t.Run("one list", func(t *testing.T) {
		c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/work_queues/filter" {
				t.Errorf("unexpected %s", r.URL.Path)
			}
			writeJSON(w, 200, []map[string]any{
				queue("1", "b", "default", 2, "READY"), queue("2", "a", "x", 1, "NOT_READY"),
				queue("3", "b", "urgent", 1, "PAUSED"), queue("4", "", "legacy", 1, "READY"),
			})
		}, Connection{})
		got, err := c.ListQueueStatus(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, q := range got {
			names = append(names, q.Pool+"/"+q.Name+":"+q.Status)
		}
		if want := []string{"a/x:NOT_READY", "b/urgent:PAUSED", "b/default:READY"}; !reflect.DeepEqual(names, want) {
			t.Errorf("got %v, want %v", names, want)
		}
	})
	t.Run("a repeated queue reads pool by pool", func(t *testing.T) {
		c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/api/work_queues/filter":
				writeJSON(w, 200, []map[string]any{queue("1", "a", "default", 1, "READY"), queue("1", "a", "default", 1, "READY")})
			case "/api/work_pools/a/queues/filter":
				writeJSON(w, 200, []map[string]any{queue("1", "", "default", 1, "READY"), queue("2", "", "second", 2, "READY")})
			case "/api/work_pools/gone/queues/filter":
				writeJSON(w, 404, map[string]any{"detail": "Work pool not found."})
			default:
				t.Errorf("unexpected %s", r.URL.Path)
			}
		}, Connection{})
		got, err := c.ListQueueStatus(context.Background(), []string{"a", "gone"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Pool != "a" || got[1].Name != "second" {
			t.Errorf("got %+v", got)
		}
	})
}
