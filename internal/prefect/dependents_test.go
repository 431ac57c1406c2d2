package prefect

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// A server without the paginate routes (an older Prefect 3) is read
// through the filter routes; the counts come out the same.
func TestReadDependentsWithoutPaginate(t *testing.T) {
	var routes []string
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		routes = append(routes, r.Method+" "+strings.TrimPrefix(r.URL.Path, "/api/"))
		body := readBody(t, r)
		switch r.URL.Path {
		case "/api/deployments/paginate", "/api/flow_runs/paginate":
			writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not Found"})
		case "/api/deployments/filter":
			if body["offset"] != 0.0 {
				writeJSON(w, http.StatusOK, []any{})
				return
			}
			writeJSON(w, http.StatusOK, []any{
				map[string]any{"id": "d1", "name": "nightly", "flow_id": "f1", "work_pool_name": "cpu", "work_queue_name": "default",
					"job_variables": map[string]any{"image": "x:1"}},
			})
		case "/api/flows/filter":
			writeJSON(w, http.StatusOK, []any{map[string]any{"id": "f1", "name": "etl"}})
		case "/api/flow_runs/filter":
			writeJSON(w, http.StatusOK, []any{
				map[string]any{"deployment_id": "d1", "work_pool_name": "cpu", "work_queue_name": "default", "state_type": "SCHEDULED"},
				map[string]any{"deployment_id": "d1", "work_pool_name": "cpu", "work_queue_name": "default", "state_type": "RUNNING"},
			})
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not Found"})
		}
	}, Connection{})
	deps, err := c.ReadDependents(context.Background(), []string{"cpu"})
	if err != nil {
		t.Fatal(err)
	}
	if len(deps.Deployments) != 1 || deps.Deployments[0].Name != "etl/nightly" || deps.Deployments[0].Queue != "default" {
		t.Errorf("deployments: %+v", deps.Deployments)
	}
	if got := deps.RunsOn("cpu", "default"); got != (state.RunCounts{Scheduled: 1, Running: 1}) {
		t.Errorf("runs: %+v", got)
	}
	want := "POST deployments/paginate,POST deployments/filter,POST flows/filter,POST flow_runs/paginate,POST flow_runs/filter"
	if strings.Join(routes, ",") != want {
		t.Errorf("routes:\n%s\nwant:\n%s", strings.Join(routes, ","), want)
	}
}
