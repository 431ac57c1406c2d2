package prefect

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// bodyRecorder is a server that answers every request with success and
// keeps the raw bodies, by method.
type bodyRecorder struct {
	mu     sync.Mutex
	bodies map[string][]string
}

func recordBodies(t *testing.T) (*testClient, *bodyRecorder) {
	rec := &bodyRecorder{bodies: map[string][]string{}}
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.bodies[r.Method] = append(rec.bodies[r.Method], string(b))
		rec.mu.Unlock()
		if r.Method == http.MethodPost {
			writeJSON(w, http.StatusCreated, map[string]any{})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}, Connection{})
	return c, rec
}

// sent decodes the only body sent with method.
func (r *bodyRecorder) sent(t *testing.T, method string) (map[string]any, string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bodies[method]) != 1 {
		t.Fatalf("%s bodies: %q, want one", method, r.bodies[method])
	}
	raw := r.bodies[method][0]
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("%s body %q: %v", method, raw, err)
	}
	return m, raw
}

// A create and an update of every field go through the one translation:
// the update's body is the create's without name and type.
func TestPoolCreateAndUpdateSendTheSameFields(t *testing.T) {
	p := &state.Pool{Name: "gpu", Type: "kubernetes", Description: ptr("GPU jobs"), Paused: ptr(true),
		ConcurrencyLimit: ptr(3), BaseJobTemplate: map[string]any{"job_configuration": map[string]any{"image": "{{ image }}"}}}
	c, rec := recordBodies(t)
	ctx := context.Background()
	if err := c.CreatePool(ctx, p); err != nil {
		t.Fatal(err)
	}
	all := state.FieldDescription | state.FieldPaused | state.FieldConcurrencyLimit | state.FieldBaseJobTemplate
	if err := c.UpdatePool(ctx, p.Name, state.PoolUpdate{Fields: all, Pool: p}); err != nil {
		t.Fatal(err)
	}
	created, _ := rec.sent(t, http.MethodPost)
	updated, _ := rec.sent(t, http.MethodPatch)
	if created["name"] != "gpu" || created["type"] != "kubernetes" {
		t.Errorf("create body %v lacks the name or the type", created)
	}
	rest := maps.Clone(created)
	delete(rest, "name")
	delete(rest, "type")
	if !reflect.DeepEqual(rest, updated) {
		t.Errorf("create sends %v, update of every field %v", rest, updated)
	}
	want := []string{"base_job_template", "concurrency_limit", "description", "is_paused"}
	if got := slices.Sorted(maps.Keys(updated)); !reflect.DeepEqual(got, want) {
		t.Errorf("update sends %v, want %v", got, want)
	}
}

func TestQueueCreateAndUpdateSendTheSameFields(t *testing.T) {
	q := &state.Queue{Pool: "gpu", Name: "urgent", Description: ptr("first"), Paused: ptr(false),
		ConcurrencyLimit: ptr(0), Priority: ptr(2)}
	c, rec := recordBodies(t)
	ctx := context.Background()
	if err := c.CreateQueue(ctx, q); err != nil {
		t.Fatal(err)
	}
	all := state.FieldDescription | state.FieldPaused | state.FieldConcurrencyLimit | state.FieldPriority
	if err := c.UpdateQueue(ctx, q.Pool, q.Name, state.QueueUpdate{Fields: all, Queue: q}); err != nil {
		t.Fatal(err)
	}
	created, _ := rec.sent(t, http.MethodPost)
	updated, _ := rec.sent(t, http.MethodPatch)
	if created["name"] != "urgent" {
		t.Errorf("create body %v lacks the name", created)
	}
	rest := maps.Clone(created)
	delete(rest, "name")
	if !reflect.DeepEqual(rest, updated) {
		t.Errorf("create sends %v, update of every field %v", rest, updated)
	}
	want := []string{"concurrency_limit", "description", "is_paused", "priority"}
	if got := slices.Sorted(maps.Keys(updated)); !reflect.DeepEqual(got, want) {
		t.Errorf("update sends %v, want %v", got, want)
	}
}

// An update to a nil concurrency limit removes the limit: the field is sent
// as null, not left out. A create leaves an unset field out.
func TestNilConcurrencyLimitIsSentAsNull(t *testing.T) {
	tests := map[string]func(context.Context, *testClient) error{
		"pool": func(ctx context.Context, c *testClient) error {
			return c.UpdatePool(ctx, "gpu", state.PoolUpdate{Fields: state.FieldConcurrencyLimit, Pool: &state.Pool{Name: "gpu"}})
		},
		"queue": func(ctx context.Context, c *testClient) error {
			return c.UpdateQueue(ctx, "gpu", "q", state.QueueUpdate{Fields: state.FieldConcurrencyLimit, Queue: &state.Queue{Pool: "gpu", Name: "q"}})
		},
	}
	for name, update := range tests {
		t.Run(name, func(t *testing.T) {
			c, rec := recordBodies(t)
			if err := update(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			body, raw := rec.sent(t, http.MethodPatch)
			if v, ok := body["concurrency_limit"]; !ok || v != nil || len(body) != 1 {
				t.Errorf("body %s, want only \"concurrency_limit\": null", raw)
			}
			if !strings.Contains(raw, `"concurrency_limit":null`) {
				t.Errorf("raw body %s", raw)
			}
		})
	}
	c, rec := recordBodies(t)
	if err := c.CreatePool(context.Background(), &state.Pool{Name: "gpu", Type: "process"}); err != nil {
		t.Fatal(err)
	}
	if body, raw := rec.sent(t, http.MethodPost); len(body) != 2 {
		t.Errorf("create of a pool with only a name and a type sends %s", raw)
	}
}

// An update that sets nothing sends an empty object, and fields the object
// type does not have are not sent.
func TestUpdateBodiesKeepToTheirType(t *testing.T) {
	if got := PoolFields(&state.Pool{}, 0); got == nil || len(got) != 0 {
		t.Errorf("empty pool update: %#v", got)
	}
	if got := PoolFields(&state.Pool{}, state.FieldPriority); len(got) != 0 {
		t.Errorf("a pool update of a priority sends %v", got)
	}
	if got := QueueFields(&state.Queue{}, state.FieldBaseJobTemplate); len(got) != 0 {
		t.Errorf("a queue update of a template sends %v", got)
	}
}
