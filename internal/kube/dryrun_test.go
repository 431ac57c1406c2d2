package kube

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

func configMap(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": "prefect"}}}
}

func secretObject(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": name, "namespace": "prefect"}}}
}

// statusBody is a Status of the API server for an object.
func statusBody(code int, reason, kind, name, message string) string {
	return `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":` + strconv.Quote(message) +
		`,"reason":"` + reason + `","details":{"name":"` + name + `","kind":"` + kind + `"},"code":` + strconv.Itoa(code) + `}`
}

// The dry runs sort the server's answers: what it would store for an
// existing object, a refusal (invalid) of an existing or a new object as a
// problem of that object, a new object it does not judge (forbidden,
// namespace missing) as unchecked, and any other failure as an error.
// Secret values never appear in a reason.
func TestPredictSortsDryRunAnswers(t *testing.T) {
	const value = "s3cr3t-value-for-the-test"
	answers := map[string]struct {
		code int
		body string
	}{
		"kept":     {200, ""},
		"new-ok":   {200, ""},
		"bad-old":  {422, statusBody(422, "Invalid", "configmaps", "bad-old", `ConfigMap "bad-old" is invalid: data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters`)},
		"bad-new":  {422, statusBody(422, "Invalid", "configmaps", "bad-new", `ConfigMap "bad-new" is invalid: data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters`)},
		"echo":     {422, statusBody(422, "Invalid", "secrets", "echo", `Secret "echo" is invalid: data[k]: Invalid value: "`+value+`" or `+base64.StdEncoding.EncodeToString([]byte(value)))},
		"no-right": {403, statusBody(403, "Forbidden", "configmaps", "no-right", `configmaps "no-right" is forbidden: User "diff" cannot patch resource "configmaps" in API group "" in the namespace "prefect"`)},
		"no-ns":    {404, statusBody(404, "NotFound", "namespaces", "prefect", `namespaces "prefect" not found`)},
	}
	c := hostileClient(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		name := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		a := answers[name]
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("dryRun") != "All" {
			w.WriteHeader(500)
			return
		}
		if a.code == 0 {
			a = struct {
				code int
				body string
			}{403, statusBody(403, "Forbidden", "configmaps", name, `configmaps "`+name+`" is forbidden`)}
		}
		w.WriteHeader(a.code)
		if a.code == 200 {
			w.Write(body)
			return
		}
		io.WriteString(w, a.body)
	}, 0)
	ctx := context.Background()
	key := func(o *unstructured.Unstructured) state.Key { return state.ObjectKey(o) }
	echo := secretObject("echo")
	data := map[state.Key]map[string][]byte{key(echo): {"k": []byte(value)}}
	got, err := c.Predict(ctx, []*unstructured.Unstructured{configMap("kept"), configMap("bad-old")},
		[]*unstructured.Unstructured{configMap("new-ok"), configMap("bad-new"), echo, configMap("no-right"), configMap("no-ns")}, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Predicted) != 1 || got.Predicted[key(configMap("kept"))] == nil {
		t.Errorf("predicted: %v, want only the existing object the server accepts", got.Predicted)
	}
	for _, name := range []string{"bad-old", "bad-new"} {
		if r := got.Refused[key(configMap(name))]; !strings.Contains(r, `ConfigMap "`+name+`" is invalid: data[bad key]`) {
			t.Errorf("refused %s: %q", name, r)
		}
	}
	if r := got.Refused[key(echo)]; strings.Contains(r, value) || strings.Contains(r, base64.StdEncoding.EncodeToString([]byte(value))) || !strings.Contains(r, "(sensitive value)") {
		t.Errorf("the refusal of a Secret shows its value: %q", r)
	}
	if len(got.Unchecked) != 2 || !strings.Contains(got.Unchecked[key(configMap("no-right"))], "forbidden") ||
		!strings.Contains(got.Unchecked[key(configMap("no-ns"))], "not found") {
		t.Errorf("unchecked: %v", got.Unchecked)
	}
	if _, ok := got.Refused[key(configMap("new-ok"))]; ok {
		t.Error("an accepted new object is refused")
	}

	// An existing object the identity may not dry-run is an error, as
	// before: diff cannot tell what sync would do.
	if _, err := c.Predict(ctx, []*unstructured.Unstructured{configMap("other")}, nil, nil); err == nil ||
		!strings.Contains(err.Error(), `dry-run applying ConfigMap "prefect/other"`) || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("forbidden dry run of an existing object: %v", err)
	}
}
