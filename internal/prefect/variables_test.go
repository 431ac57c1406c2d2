package prefect

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestSetVariable(t *testing.T) {
	tests := map[string]struct {
		exists   bool
		tags     []string
		wantReqs []string
		wantBody string
	}{
		"updates an existing variable": {exists: true, tags: []string{"prefect-apply"},
			wantReqs: []string{"PATCH /api/variables/name/inv"}},
		"creates a missing one": {tags: nil,
			wantReqs: []string{"PATCH /api/variables/name/inv", "POST /api/variables/"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				got = append(got, r.Method+" "+r.URL.Path)
				body := readBody(t, r)
				_, hasTags := body["tags"]
				if hasTags != (tc.tags != nil) {
					t.Errorf("%s body %v: tags should be sent only when given", r.Method, body)
				}
				switch {
				case r.Method == "PATCH" && !tc.exists:
					writeJSON(w, 404, map[string]any{"detail": "Variable not found."})
				case r.Method == "PATCH":
					w.WriteHeader(204)
				default:
					if body["name"] != "inv" || body["value"].(map[string]any)["a"] != "b" {
						t.Errorf("create body = %v", body)
					}
					writeJSON(w, 201, body)
				}
			}, Connection{})
			if err := c.SetVariable(context.Background(), "inv", map[string]any{"a": "b"}, tc.tags); err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tc.wantReqs, ",") {
				t.Errorf("requests %v, want %v", got, tc.wantReqs)
			}
		})
	}
}

func TestSetVariableTooLarge(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("nothing should be sent, got %s %s", r.Method, r.URL.Path)
	}, Connection{})
	// 4998 characters plus quotes fit exactly; '<' counts once, not as \u003c.
	if n, _ := valueLength(strings.Repeat("<", 4998)); n != 5000 {
		t.Errorf("valueLength = %d, want 5000", n)
	}
	err := c.SetVariable(context.Background(), "inv", strings.Repeat("x", 4999), nil)
	if !errors.Is(err, ErrVariableTooLarge) || !strings.Contains(err.Error(), `setting variable "inv": variable value too large: its JSON is 5001 characters, Prefect allows 5000`) {
		t.Fatalf("error = %v", err)
	}
}

// The server's own 422 for a value it counts differently is marked too.
func TestSetVariableServerTooLarge(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 422, map[string]any{"exception_message": "Invalid request received.",
			"exception_detail": []any{map[string]any{"loc": []any{"body", "value"},
				"msg": "Value error, Variable value must be less than 5000 characters", "type": "value_error"}}})
	}, Connection{})
	err := c.SetVariable(context.Background(), "inv", 1.5, nil)
	if !errors.Is(err, ErrVariableTooLarge) {
		t.Fatalf("error = %v", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 422 {
		t.Errorf("the APIError should stay reachable: %v", err)
	}
}

func TestGetVariable(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/missing") {
			writeJSON(w, 404, map[string]any{"detail": "Variable not found."})
			return
		}
		writeJSON(w, 200, map[string]any{"name": "inv", "value": []any{"a", 1.0}, "tags": []string{}})
	}, Connection{})
	v, found, err := c.GetVariable(context.Background(), "inv")
	if err != nil || !found || len(v.([]any)) != 2 {
		t.Errorf("GetVariable = %v, %v, %v", v, found, err)
	}
	if _, found, err = c.GetVariable(context.Background(), "missing"); err != nil || found {
		t.Errorf("missing: found=%v err=%v", found, err)
	}
}

func TestListVariablesPrefix(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		b := readBody(t, r)
		like := b["variables"].(map[string]any)["name"].(map[string]any)["like_"]
		if like != "prefect_apply_" || r.URL.Path != "/api/variables/filter" {
			t.Errorf("filter = %v on %s", b, r.URL.Path)
		}
		// The server matches ILIKE '%prefix%', '_' being a wildcard.
		writeJSON(w, 200, []map[string]any{{"name": "prefect_apply_a"}, {"name": "my_prefect_apply_b"}, {"name": "prefect-apply-c"}})
	}, Connection{})
	vs, err := c.ListVariables(context.Background(), "prefect_apply_")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Name != "prefect_apply_a" {
		t.Errorf("got %v", vs)
	}
}
