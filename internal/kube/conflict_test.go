package kube

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// conflictStatus is the API server's answer to a server-side apply that
// another field manager's fields block (k8s.io/apiserver's
// NewConflictError): one cause per field.
const conflictStatus = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
"message":"Apply failed with 3 conflicts: conflicts with \"kubectl-edit\" using rbac.authorization.k8s.io/v1:\n- .subjects\n- .metadata.labels.team\nconflicts with \"helm\":\n- .roleRef",
"reason":"Conflict","details":{"name":"b","group":"rbac.authorization.k8s.io","kind":"clusterrolebindings","causes":[
{"reason":"FieldManagerConflict","message":"conflict with \"kubectl-edit\" using rbac.authorization.k8s.io/v1","field":".subjects"},
{"reason":"FieldManagerConflict","message":"conflict with \"helm\"","field":".roleRef"},
{"reason":"FieldManagerConflict","message":"conflict with \"kubectl-edit\" using rbac.authorization.k8s.io/v1 at 2026-01-02T03:04:05Z","field":".metadata.labels.team"}]},
"code":409}`

func bindingObject() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": map[string]any{"name": "b"},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
	}}
}

// conflictServer answers an apply that does not force with the conflict,
// and one that forces with the object; it records the force of each.
func conflictServer(t *testing.T) (*Client, func() []string) {
	var mu sync.Mutex
	var forces []string
	c := hostileClient(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		forces = append(forces, r.URL.Query().Get("force")+"/"+r.URL.Query().Get("dryRun"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("force") != "true" {
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, conflictStatus)
			return
		}
		w.Write(body)
	}, 0)
	return c, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), forces...) }
}

// A conflict names each field with its manager, grouped by manager, and
// says what to do with them.
func TestApplyConflictNamesFieldsAndManagers(t *testing.T) {
	c, _ := conflictServer(t)
	err := c.Apply(context.Background(), bindingObject(), nil)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("Apply: %v, want ErrConflict", err)
	}
	want := `applying ClusterRoleBinding "b": apply conflict: field manager "kubectl-edit" owns subjects, metadata.labels.team; field manager "helm" owns roleRef, with values other than the file's
    hint: change them back to the file's, or take them over with --force-conflicts (prefect-apply then owns them)`
	if err.Error() != want {
		t.Errorf("Apply:\n%s\nwant\n%s", err, want)
	}
}

// The dry run does not force: a conflict is recorded, by manager and field,
// and a forced dry run predicts what taking the fields over would store.
func TestPredictRecordsConflicts(t *testing.T) {
	c, forces := conflictServer(t)
	key := state.ObjectKey(bindingObject())
	got, err := c.Predict(context.Background(), []*unstructured.Unstructured{bindingObject()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []state.Conflict{{Manager: "kubectl-edit", Fields: []string{"subjects", "metadata.labels.team"}}, {Manager: "helm", Fields: []string{"roleRef"}}}
	a, _ := json.Marshal(got.Conflicts[key])
	b, _ := json.Marshal(want)
	if string(a) != string(b) {
		t.Errorf("conflicts = %s, want %s", a, b)
	}
	if got.Predicted[key] == nil {
		t.Error("no prediction for the conflicting object")
	}
	if f := strings.Join(forces(), " "); f != "false/All true/All" {
		t.Errorf("requests (force/dryRun) = %s, want a dry run without force, then one with", f)
	}
}

func TestManagerOf(t *testing.T) {
	for msg, want := range map[string]string{
		`conflict with "kubectl-edit" using v1`:                               "kubectl-edit",
		`conflict with "helm"`:                                                "helm",
		`conflict with "a \"quoted\" one" with subresource "status" using v1`: `a "quoted" one`,
		`something else`:                                                      "something else",
	} {
		if got := managerOf(msg); got != want {
			t.Errorf("managerOf(%q) = %q, want %q", msg, got, want)
		}
	}
}
