package faults

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/desired"
)

// verdict lists what the servers got wrong, one line per object.
type verdict struct {
	lost, duplicated, mixed []string
}

func (v *verdict) addLost(format string, args ...any) {
	v.lost = append(v.lost, fmt.Sprintf(format, args...))
}

func (v *verdict) addDup(format string, args ...any) {
	v.duplicated = append(v.duplicated, fmt.Sprintf(format, args...))
}

func (v *verdict) addMixed(format string, args ...any) {
	v.mixed = append(v.mixed, fmt.Sprintf(format, args...))
}

// api calls the Prefect server directly (not through the proxy) and
// decodes its 200 answer into out.
func (w *world) api(t *testing.T, method, path string, body any, out any) {
	t.Helper()
	status, raw := w.call(t, method, path, body)
	if status != http.StatusOK {
		t.Fatalf("%s %s: %d %.300s", method, path, status, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
}

// direct reaches the Prefect server without the proxy; a connection per
// request, so that no kept-alive connection is closed under a request.
var direct = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// call sends one request to the Prefect server directly and returns the
// status and body. A 503 (the server's database is busy: nothing was
// written) is sent again.
func (w *world) call(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var payload []byte
	if body != nil {
		payload, _ = json.Marshal(body)
	}
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequest(method, w.prefect.URL+path, bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		user, pass, _ := strings.Cut(w.auth, ":")
		req.SetBasicAuth(user, pass)
		resp, err := direct.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && attempt < 10 {
			time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
			continue
		}
		return resp.StatusCode, raw
	}
}

// pageAll reads every page of a filter endpoint.
func pageAll[T any](t *testing.T, w *world, path string, filter map[string]any) []T {
	t.Helper()
	var all []T
	for offset := 0; ; offset += 200 {
		body := map[string]any{"limit": 200, "offset": offset}
		for k, v := range filter {
			body[k] = v
		}
		var page []T
		w.api(t, http.MethodPost, path, body, &page)
		all = append(all, page...)
		if len(page) < 200 {
			return all
		}
	}
}

type livePool struct {
	Name             string
	Type             string
	Description      *string
	ConcurrencyLimit *int           `json:"concurrency_limit"`
	BaseJobTemplate  map[string]any `json:"base_job_template"`
}

type liveQueue struct {
	Name             string
	Description      *string
	Priority         int
	ConcurrencyLimit *int `json:"concurrency_limit"`
	IsPaused         bool `json:"is_paused"`
}

type liveVariable struct {
	Name  string
	Value struct {
		Set    string
		Pools  []string
		Queues [][2]string
	}
}

// verify reads both servers directly and compares them with the file: each
// declared pool, queue, inventory entry and Kubernetes object exists once,
// with the file's values, and nothing else carries the set's name or
// labels.
func verify(t *testing.T, w *world, set, content, secretValue string) verdict {
	t.Helper()
	var v verdict
	d, err := parseDeclared(content)
	if err != nil {
		t.Fatal(err)
	}
	verifyPrefect(t, w, set, content, d, &v)
	verifyInventory(t, w, set, d, &v)
	verifyKube(t, w, set, d, secretValue, &v)
	return v
}

func verifyPrefect(t *testing.T, w *world, set, content string, d *declared, v *verdict) {
	prefix := set + "-"
	live := map[string][]livePool{}
	for _, p := range pageAll[livePool](t, w, "/work_pools/filter", nil) {
		if strings.HasPrefix(p.Name, prefix) {
			live[p.Name] = append(live[p.Name], p)
		}
	}
	// Queues pool by pool: /work_queues/filter orders by name alone, and
	// names repeat across pools, so its pages may overlap.
	queues := map[string]map[string][]liveQueue{}
	for name := range live {
		queues[name] = map[string][]liveQueue{}
		for _, q := range pageAll[liveQueue](t, w, "/work_pools/"+url.PathEscape(name)+"/queues/filter", nil) {
			queues[name][q.Name] = append(queues[name][q.Name], q)
		}
	}
	want := map[string]bool{}
	templates := renderTemplates(t, content)
	for _, p := range d.Pools {
		want[p.Name] = true
		got := live[p.Name]
		switch {
		case len(got) == 0:
			v.addLost("work pool %q", p.Name)
			continue
		case len(got) > 1:
			v.addDup("work pool %q listed %d times", p.Name, len(got))
		}
		lp := got[0]
		var diffs []string
		if lp.Type != p.Type {
			diffs = append(diffs, fmt.Sprintf("type %q", lp.Type))
		}
		if lp.Description == nil || *lp.Description != p.Description {
			diffs = append(diffs, fmt.Sprintf("description %v", deref(lp.Description)))
		}
		if p.ConcurrencyLimit != nil && (lp.ConcurrencyLimit == nil || *lp.ConcurrencyLimit != *p.ConcurrencyLimit) {
			diffs = append(diffs, fmt.Sprintf("concurrency limit %v, want %d", deref(lp.ConcurrencyLimit), *p.ConcurrencyLimit))
		}
		props, _ := dig(lp.BaseJobTemplate, "variables", "properties").(map[string]any)
		if got := dig(props, "image", "default"); got != p.JobTemplate.Image {
			diffs = append(diffs, fmt.Sprintf("image %v, want %s", got, p.JobTemplate.Image))
		}
		if got, _ := dig(props, "finished_job_ttl", "default").(float64); int(got) != p.JobTemplate.FinishedJobTTL {
			diffs = append(diffs, fmt.Sprintf("finished_job_ttl %v, want %d", got, p.JobTemplate.FinishedJobTTL))
		}
		wantLevel := envValue(p.JobTemplate.Env, "LOG_LEVEL")
		if got := envDefault(props, "LOG_LEVEL"); got != wantLevel {
			diffs = append(diffs, fmt.Sprintf("env LOG_LEVEL %q, want %q", got, wantLevel))
		}
		if !reflect.DeepEqual(normalize(lp.BaseJobTemplate), normalize(templates[p.Name])) {
			diffs = append(diffs, "base job template differs from the one the file renders to")
		}
		if len(diffs) > 0 {
			v.addMixed("work pool %q: %s", p.Name, strings.Join(diffs, "; "))
		}

		wantQ := map[string]bool{}
		for _, q := range p.Queues {
			wantQ[q.Name] = true
			gq := queues[p.Name][q.Name]
			switch {
			case len(gq) == 0:
				v.addLost("work queue %q in pool %q", q.Name, p.Name)
				continue
			case len(gq) > 1:
				v.addDup("work queue %q in pool %q listed %d times", q.Name, p.Name, len(gq))
			}
			lq := gq[0]
			var qd []string
			if lq.Priority != q.Priority {
				qd = append(qd, fmt.Sprintf("priority %d, want %d", lq.Priority, q.Priority))
			}
			if q.Description != "" && deref(lq.Description) != q.Description {
				qd = append(qd, fmt.Sprintf("description %q", deref(lq.Description)))
			}
			if q.ConcurrencyLimit != nil && (lq.ConcurrencyLimit == nil || *lq.ConcurrencyLimit != *q.ConcurrencyLimit) {
				qd = append(qd, fmt.Sprintf("concurrency limit %v, want %d", deref(lq.ConcurrencyLimit), *q.ConcurrencyLimit))
			}
			if lq.IsPaused != q.Paused {
				qd = append(qd, fmt.Sprintf("paused %v", lq.IsPaused))
			}
			if len(qd) > 0 {
				v.addMixed("work queue %q in pool %q: %s", q.Name, p.Name, strings.Join(qd, "; "))
			}
		}
		for name := range queues[p.Name] {
			if !wantQ[name] {
				v.addDup("work queue %q in pool %q is not in the file", name, p.Name)
			}
		}
	}
	for name := range live {
		if !want[name] {
			v.addDup("work pool %q is not in the file", name)
		}
	}
}

// renderTemplates builds each pool's base job template from the file, as
// prefect-apply render does (offline): the whole template a pool must hold.
func renderTemplates(t *testing.T, content string) map[string]map[string]any {
	lookup := func(string) (string, bool) { return "", false }
	doc, probs := config.Parse(strings.NewReader(content), "pools.yaml", config.Options{LookupEnv: lookup})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	f, probs := doc.Validate()
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	st, err := desired.Build(f, desired.Options{LookupEnv: lookup, SkipSecretValues: true})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for name, p := range st.Pools {
		out[name] = p.BaseJobTemplate
	}
	return out
}

// verifyInventory checks the set's ownership record: every declared pool
// and queue once, nothing else.
func verifyInventory(t *testing.T, w *world, set string, d *declared, v *verdict) {
	prefix := "prefect-apply_" + set + "_"
	seen := map[string]int{}
	for _, va := range pageAll[liveVariable](t, w, "/variables/filter",
		map[string]any{"variables": map[string]any{"name": map[string]any{"like_": prefix}}}) {
		if !strings.HasPrefix(va.Name, prefix) {
			continue
		}
		for _, p := range va.Value.Pools {
			seen["pool "+p]++
		}
		for _, q := range va.Value.Queues {
			seen["queue "+q[0]+"/"+q[1]]++
		}
	}
	want := map[string]bool{}
	for _, p := range d.Pools {
		want["pool "+p.Name] = true
		for _, q := range p.Queues {
			want["queue "+p.Name+"/"+q.Name] = true
		}
	}
	for k := range want {
		switch n := seen[k]; {
		case n == 0:
			v.addLost("inventory entry %s", k)
		case n > 1:
			v.addDup("inventory entry %s recorded %d times", k, n)
		}
	}
	for k := range seen {
		if !want[k] {
			v.addDup("inventory entry %s is not in the file", k)
		}
	}
}

var kubeKinds = map[string]schema.GroupVersionResource{
	"Namespace":          {Version: "v1", Resource: "namespaces"},
	"ServiceAccount":     {Version: "v1", Resource: "serviceaccounts"},
	"Secret":             {Version: "v1", Resource: "secrets"},
	"ClusterRole":        {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"},
	"ClusterRoleBinding": {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"},
	"Role":               {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
	"RoleBinding":        {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
}

var namespaced = map[string]bool{"ServiceAccount": true, "Secret": true, "Role": true, "RoleBinding": true}

// verifyKube checks each declared object through client-go: it exists,
// carries the set's labels, holds every field the file declares (the
// server may add defaults), and each Secret holds the current value; and
// listing every kind by the set's labels finds nothing else.
func verifyKube(t *testing.T, w *world, set string, d *declared, secretValue string, v *verdict) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	want := map[string]bool{}
	check := func(kind, ns, name string, decl map[string]any) {
		id := kind + " " + strings.TrimPrefix(ns+"/"+name, "/")
		want[id] = true
		r := w.dyn.Resource(kubeKinds[kind])
		var obj *unstructured.Unstructured
		var err error
		if ns != "" {
			obj, err = r.Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		} else {
			obj, err = r.Get(ctx, name, metav1.GetOptions{})
		}
		if err != nil {
			v.addLost("%s: %v", id, err)
			return
		}
		var diffs []string
		if l := obj.GetLabels(); l["app.kubernetes.io/managed-by"] != "prefect-apply" || l["prefect-apply.io/set"] != set {
			diffs = append(diffs, fmt.Sprintf("labels %v", l))
		}
		for k, dv := range decl {
			if k == "metadata" || k == "apiVersion" || k == "kind" {
				continue
			}
			if !subset(dv, obj.Object[k]) {
				diffs = append(diffs, fmt.Sprintf("%s is %v, want %v", k, obj.Object[k], dv))
			}
		}
		if kind == "Secret" {
			data, _ := obj.Object["data"].(map[string]any)
			raw, _ := data["auth-string"].(string)
			if raw != b64(secretValue) {
				diffs = append(diffs, "data.auth-string is not the current value")
			}
		}
		if len(diffs) > 0 {
			v.addMixed("%s: %s", id, strings.Join(diffs, "; "))
		}
	}
	for _, res := range d.Kubernetes.Resources {
		kind, _ := res["kind"].(string)
		name, _ := dig(res, "metadata", "name").(string)
		ns := ""
		if namespaced[kind] {
			ns = d.Kubernetes.Namespace
			if n, ok := dig(res, "metadata", "namespace").(string); ok && n != "" {
				ns = n
			}
		}
		check(kind, ns, name, res)
	}
	for _, s := range d.Kubernetes.Secrets {
		check("Secret", d.Kubernetes.Namespace, s.Name, nil)
	}

	selector := "app.kubernetes.io/managed-by=prefect-apply,prefect-apply.io/set=" + set
	kinds := make([]string, 0, len(kubeKinds))
	for k := range kubeKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		list, err := w.dyn.Resource(kubeKinds[kind]).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			t.Fatalf("listing %s: %v", kind, err)
		}
		for _, o := range list.Items {
			id := kind + " " + strings.TrimPrefix(o.GetNamespace()+"/"+o.GetName(), "/")
			if !want[id] {
				v.addDup("%s carries the set's labels and is not in the file", id)
			}
		}
	}
}

// subset reports whether every field of want is in got with the same value
// (lists element by element, in order).
func subset(want, got any) bool {
	switch wv := want.(type) {
	case map[string]any:
		gv, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, x := range wv {
			if !subset(x, gv[k]) {
				return false
			}
		}
		return true
	case []any:
		gv, ok := got.([]any)
		if !ok || len(gv) != len(wv) {
			return false
		}
		for i := range wv {
			if !subset(wv[i], gv[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(normalize(want), normalize(got))
}

// normalize makes JSON numbers and YAML numbers comparable.
func normalize(v any) any {
	raw, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(raw, &out)
	return out
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// envDefault finds an env value in a template's env variable default,
// whether it is a name → value object or a list of EnvVars.
func envDefault(props map[string]any, name string) string {
	switch env := dig(props, "env", "default").(type) {
	case map[string]any:
		s, _ := env[name].(string)
		return s
	case []any:
		for _, e := range env {
			if dig(e, "name") == name {
				s, _ := dig(e, "value").(string)
				return s
			}
		}
	}
	return ""
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// removePools deletes a set's pools (their queues go with them) and its
// inventory from the Prefect server, so that the reads of later scenarios
// do not grow with every seed of a soak. Its Kubernetes objects stay: they
// are listed by label, which costs the server little.
func (w *world) removePools(t *testing.T, set string) {
	t.Helper()
	for _, p := range pageAll[livePool](t, w, "/work_pools/filter", nil) {
		if strings.HasPrefix(p.Name, set+"-") {
			if code, raw := w.call(t, http.MethodDelete, "/work_pools/"+url.PathEscape(p.Name), nil); code != http.StatusNoContent {
				t.Errorf("deleting work pool %q: %d %.200s", p.Name, code, raw)
			}
		}
	}
	prefix := "prefect-apply_" + set + "_"
	for _, va := range pageAll[liveVariable](t, w, "/variables/filter",
		map[string]any{"variables": map[string]any{"name": map[string]any{"like_": prefix}}}) {
		if strings.HasPrefix(va.Name, prefix) {
			if code, raw := w.call(t, http.MethodDelete, "/variables/name/"+url.PathEscape(va.Name), nil); code != http.StatusNoContent {
				t.Errorf("deleting variable %q: %d %.200s", va.Name, code, raw)
			}
		}
	}
}
