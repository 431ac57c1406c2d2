package plan_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/apply"
	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/desired"
	"github.com/prefect-apply/prefect-apply/internal/inventory"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// The whole pipeline, fuzzed: a random but valid pools.yaml (interpolation,
// anchors and merge keys, job template overrides and raw templates, RBAC,
// Secrets from the environment and from files) is loaded, validated and
// built into a desired State as diff and sync do; a live state comes from
// syncing an earlier random file and changing things out of band; the plan
// is applied by apply.Execute to an in-memory Prefect server and cluster
// that behave as the real ones do where it matters (the server's default
// queue, priority shifting, 409/404 on creating what exists or updating
// what does not, server-side apply with field ownership and defaulting);
// ownership is recorded as sync records it. Then the same file planned
// again must write nothing: Compute(x, apply(Compute(x, live))) is empty.

const fuzzSet = "fz"

// --- the in-memory Prefect server and cluster ------------------------------

type fuzzQueue struct {
	q   state.Queue
	seq int // creation order: the server's tie-break when priorities are equal
}

type fuzzObject struct {
	obj  map[string]any
	ours map[string]bool // leaf paths applied by the prefect-apply field manager
}

type fuzzWorld struct {
	mu      sync.Mutex
	pools   map[string]*state.Pool
	queues  map[state.Key]*fuzzQueue
	objects map[state.Key]*fuzzObject
	inv     map[string]*inventory.Inventory // by set
	seq     int
	writes  int
}

func newFuzzWorld() *fuzzWorld {
	return &fuzzWorld{pools: map[string]*state.Pool{}, queues: map[state.Key]*fuzzQueue{},
		objects: map[state.Key]*fuzzObject{}, inv: map[string]*inventory.Inventory{}}
}

func (w *fuzzWorld) inventory(set string) *inventory.Inventory {
	if w.inv[set] == nil {
		w.inv[set] = inventory.New(set)
	}
	return w.inv[set]
}

func (w *fuzzWorld) tick() string {
	w.seq++
	w.writes++
	return fmt.Sprintf("u%06d", w.seq)
}

type apiError struct {
	status int
	msg    string
}

func (e apiError) Error() string { return fmt.Sprintf("%d: %s", e.status, e.msg) }

// patchFields are the fields a PATCH may send.
type patchFields struct {
	Description      *string        `json:"description"`
	IsPaused         *bool          `json:"is_paused"`
	ConcurrencyLimit *int           `json:"concurrency_limit"`
	Priority         *int           `json:"priority"`
	BaseJobTemplate  map[string]any `json:"base_job_template"`
}

// fields decodes a PATCH body as the API does: which keys were sent, and
// their values.
func fields(m map[string]any) (map[string]bool, patchFields, error) {
	var f patchFields
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, f, err
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, f, apiError{422, err.Error()}
	}
	sent := map[string]bool{}
	for k := range m {
		sent[k] = true
	}
	return sent, f, nil
}

func (w *fuzzWorld) CreatePool(_ context.Context, p *state.Pool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.createPool(p)
}

func (w *fuzzWorld) createPool(p *state.Pool) error {
	if _, ok := w.pools[p.Name]; ok {
		return apiError{409, "pool " + p.Name + " exists"}
	}
	np := &state.Pool{Name: p.Name, Type: p.Type, Description: copyPtr(p.Description), Paused: ptr(false),
		ConcurrencyLimit: copyPtr(p.ConcurrencyLimit), BaseJobTemplate: map[string]any{}, Status: "NOT_READY"}
	if p.Paused != nil {
		np.Paused = ptr(*p.Paused)
	}
	if p.BaseJobTemplate != nil {
		np.BaseJobTemplate = copyTemplate(p.BaseJobTemplate)
	}
	np.ID, np.Updated = "pool-"+p.Name, w.tick()
	w.pools[p.Name] = np
	w.seq++
	w.queues[state.QueueKey(p.Name, plan.DefaultQueue)] = &fuzzQueue{seq: w.seq, q: state.Queue{Pool: p.Name, Name: plan.DefaultQueue,
		Priority: ptr(1), Paused: ptr(false), Description: ptr(defaultQueueDescription), Updated: w.tick()}}
	return nil
}

func (w *fuzzWorld) UpdatePool(_ context.Context, name string, patch map[string]any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.pools[name]
	if !ok {
		return apiError{404, "no pool " + name}
	}
	sent, f, err := fields(patch)
	if err != nil {
		return err
	}
	for k := range sent {
		switch k {
		case "description":
			p.Description = f.Description
		case "is_paused":
			if f.IsPaused == nil {
				return apiError{422, "is_paused null"}
			}
			p.Paused = f.IsPaused
		case "concurrency_limit":
			if f.ConcurrencyLimit != nil && *f.ConcurrencyLimit < 0 {
				return apiError{422, "negative limit"}
			}
			p.ConcurrencyLimit = f.ConcurrencyLimit
		case "base_job_template":
			p.BaseJobTemplate = copyTemplate(f.BaseJobTemplate)
		default:
			return apiError{422, "pool field " + k + " cannot be updated"}
		}
	}
	p.Updated = w.tick()
	return nil
}

func (w *fuzzWorld) DeletePool(_ context.Context, name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.pools[name]; !ok {
		return apiError{404, "no pool " + name}
	}
	delete(w.pools, name)
	for k := range w.queues {
		if k.Namespace == name {
			delete(w.queues, k)
		}
	}
	w.writes++
	return nil
}

// poolQueues returns a pool's queues by priority, ties by creation.
func (w *fuzzWorld) poolQueues(pool string) []*fuzzQueue {
	var out []*fuzzQueue
	for _, q := range w.queues {
		if q.q.Pool == pool {
			out = append(out, q)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if *out[i].q.Priority != *out[j].q.Priority {
			return *out[i].q.Priority < *out[j].q.Priority
		}
		return out[i].seq < out[j].seq
	})
	return out
}

// setPriority is Prefect's bulk_update_work_queue_priorities for one queue
// (src/prefect/server/models/workers.py): the queue takes the priority, is
// placed before the first other queue at or above it, and the others are
// renumbered upwards where they collide, in order.
func (w *fuzzWorld) setPriority(target *fuzzQueue, priority int) {
	var others []*fuzzQueue
	for _, q := range w.poolQueues(target.q.Pool) {
		if q != target {
			others = append(others, q)
		}
	}
	target.q.Priority = ptr(priority)
	for i, q := range others {
		if *q.q.Priority >= priority {
			others = append(others[:i], append([]*fuzzQueue{target}, others[i:]...)...)
			break
		}
	}
	last := 0
	for _, q := range others {
		if *q.q.Priority <= last {
			last++
			if q != target {
				q.q.Updated = w.tick()
			}
			q.q.Priority = ptr(last)
		} else {
			last = *q.q.Priority
		}
	}
}

func (w *fuzzWorld) CreateQueue(_ context.Context, q *state.Queue) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.createQueue(q)
}

func (w *fuzzWorld) createQueue(q *state.Queue) error {
	if _, ok := w.pools[q.Pool]; !ok {
		return apiError{404, "no pool " + q.Pool}
	}
	key := state.QueueKey(q.Pool, q.Name)
	if _, ok := w.queues[key]; ok {
		return apiError{409, "queue exists"}
	}
	if q.Priority != nil && *q.Priority < 1 {
		return apiError{422, "priority < 1"}
	}
	nq := &fuzzQueue{q: state.Queue{Pool: q.Pool, Name: q.Name, Description: copyPtr(q.Description), Paused: ptr(false),
		ConcurrencyLimit: copyPtr(q.ConcurrencyLimit)}}
	if q.Paused != nil {
		nq.q.Paused = ptr(*q.Paused)
	}
	if q.Priority == nil {
		// The first priority not taken, else the maximum plus one.
		var taken []int
		for _, o := range w.poolQueues(q.Pool) {
			taken = append(taken, *o.q.Priority)
		}
		sort.Ints(taken)
		p := 0
		for i, t := range taken {
			if i+1 != t {
				p = i + 1
				break
			}
		}
		if p == 0 {
			p = len(taken) + 1
			if len(taken) > 0 {
				p = taken[len(taken)-1] + 1
			}
		}
		nq.q.Priority = ptr(p)
	} else {
		nq.q.Priority = ptr(*q.Priority)
	}
	w.seq++
	nq.seq = w.seq
	nq.q.ID, nq.q.Updated = "queue-"+q.Pool+"/"+q.Name, w.tick()
	w.queues[key] = nq
	if q.Priority != nil {
		w.setPriority(nq, *q.Priority)
	}
	return nil
}

func (w *fuzzWorld) UpdateQueue(_ context.Context, pool, name string, patch map[string]any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.updateQueue(pool, name, patch)
}

func (w *fuzzWorld) updateQueue(pool, name string, patch map[string]any) error {
	q, ok := w.queues[state.QueueKey(pool, name)]
	if !ok {
		return apiError{404, "no queue " + pool + "/" + name}
	}
	sent, f, err := fields(patch)
	if err != nil {
		return err
	}
	for k := range sent {
		switch k {
		case "description":
			q.q.Description = f.Description
		case "is_paused":
			if f.IsPaused == nil {
				return apiError{422, "is_paused null"}
			}
			q.q.Paused = f.IsPaused
		case "concurrency_limit":
			q.q.ConcurrencyLimit = f.ConcurrencyLimit
		case "priority":
			if f.Priority == nil || *f.Priority < 1 {
				return apiError{422, "priority must be >= 1"}
			}
		default:
			return apiError{422, "queue field " + k + " cannot be updated"}
		}
	}
	q.q.Updated = w.tick()
	if sent["priority"] {
		w.setPriority(q, *f.Priority)
	}
	return nil
}

func (w *fuzzWorld) DeleteQueue(_ context.Context, pool, name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := state.QueueKey(pool, name)
	if _, ok := w.queues[key]; !ok {
		return apiError{404, "no queue"}
	}
	if name == plan.DefaultQueue {
		return apiError{500, "cannot delete the default queue"}
	}
	delete(w.queues, key)
	w.writes++
	return nil
}

// readState is what the Prefect client reads: copies.
func (w *fuzzWorld) readState() *state.State {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := state.New()
	for _, p := range w.pools {
		c := *p
		c.Description, c.Paused, c.ConcurrencyLimit = copyPtr(p.Description), copyPtr(p.Paused), copyPtr(p.ConcurrencyLimit)
		c.BaseJobTemplate = copyTemplate(p.BaseJobTemplate)
		s.AddPool(&c)
	}
	for _, q := range w.queues {
		c := q.q
		c.Description, c.Paused, c.ConcurrencyLimit, c.Priority = copyPtr(q.q.Description), copyPtr(q.q.Paused), copyPtr(q.q.ConcurrencyLimit), copyPtr(q.q.Priority)
		s.AddQueue(&c)
	}
	return s
}

// --- the cluster: server-side apply with field ownership -------------------

// withSecretData is what the kube client sends for a Secret: its values,
// base64, under data.
func withSecretData(o *unstructured.Unstructured, data map[string][]byte) map[string]any {
	out := o.DeepCopy().Object
	if o.GetKind() == "Secret" && len(data) > 0 {
		m := map[string]any{}
		for k, v := range data {
			m[k] = base64.StdEncoding.EncodeToString(v)
		}
		out["data"] = m
	}
	return out
}

// leaves lists a manifest's leaf paths; lists are atomic.
func leaves(m map[string]any, prefix string, out map[string]bool) map[string]bool {
	for k, v := range m {
		p := prefix + "\x00" + k
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			leaves(sub, p, out)
			continue
		}
		out[p] = true
	}
	return out
}

func removeLeaf(m map[string]any, path []string) {
	if len(path) == 1 {
		delete(m, path[0])
		return
	}
	sub, ok := m[path[0]].(map[string]any)
	if !ok {
		return
	}
	removeLeaf(sub, path[1:])
	if len(sub) == 0 {
		delete(m, path[0])
	}
}

func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeInto(dm, sm)
				continue
			}
		}
		dst[k] = runtimeCopy(v)
	}
}

// runtimeCopy deep-copies a JSON-shaped value; other values go through
// JSON.
func runtimeCopy(v any) any {
	switch x := v.(type) {
	case nil, string, bool, float64:
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = runtimeCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = runtimeCopy(e)
		}
		return out
	}
	raw, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(raw, &out)
	return out
}

// copyTemplate is viaJSON for the maps templates are.
func copyTemplate(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out, _ := runtimeCopy(m).(map[string]any)
	return out
}

// ssa is a server-side apply of body over existing (nil when new): the
// fields prefect-apply applied before and no longer sends are removed,
// the body merged in, and the server's defaults filled.
func ssa(existing *fuzzObject, body map[string]any) *fuzzObject {
	body, _ = runtimeCopy(body).(map[string]any)
	applied := leaves(body, "", map[string]bool{})
	var obj map[string]any
	if existing == nil {
		obj = map[string]any{}
	} else {
		obj, _ = runtimeCopy(existing.obj).(map[string]any)
		for p := range existing.ours {
			if !applied[p] {
				removeLeaf(obj, strings.Split(p, "\x00")[1:])
			}
		}
	}
	mergeInto(obj, body)
	// Defaulting, as the API server does it.
	switch obj["kind"] {
	case "Namespace":
		setDefault(obj, []any{"kubernetes"}, "spec", "finalizers")
		setDefault(obj, "Active", "status", "phase")
	case "PersistentVolumeClaim":
		setDefault(obj, "Filesystem", "spec", "volumeMode")
		setDefault(obj, "Pending", "status", "phase")
	case "Secret":
		setDefault(obj, "Opaque", "type")
	case "ClusterRoleBinding", "RoleBinding":
		if ref, ok := obj["roleRef"].(map[string]any); ok {
			setDefault(ref, "rbac.authorization.k8s.io", "apiGroup")
		}
	}
	return &fuzzObject{obj: obj, ours: applied}
}

func setDefault(m map[string]any, v any, path ...string) {
	for _, p := range path[:len(path)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	if _, ok := m[path[len(path)-1]]; !ok {
		m[path[len(path)-1]] = v
	}
}

// stamp sets the server's metadata on a stored object.
func (w *fuzzWorld) stamp(o *fuzzObject, prev *fuzzObject) {
	md, _ := o.obj["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		o.obj["metadata"] = md
	}
	uid := fmt.Sprintf("uid-%d", w.seq)
	created := "2026-11-26T10:00:00Z"
	if prev != nil {
		pm, _ := prev.obj["metadata"].(map[string]any)
		uid, _ = pm["uid"].(string)
		created, _ = pm["creationTimestamp"].(string)
	}
	md["uid"], md["creationTimestamp"] = uid, created
	md["resourceVersion"] = w.tick()
	md["managedFields"] = []any{map[string]any{"manager": "prefect-apply", "operation": "Apply"}}
}

func (w *fuzzWorld) Apply(_ context.Context, o *unstructured.Unstructured, data map[string][]byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := state.ObjectKey(o)
	prev := w.objects[key]
	next := ssa(prev, withSecretData(o, data))
	w.stamp(next, prev)
	w.objects[key] = next
	return nil
}

func (w *fuzzWorld) Delete(_ context.Context, key state.Key) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.objects, key)
	w.writes++
	return nil
}

// readKube is kube.Client.ReadLive: the set's labelled objects and the
// declared ones that exist.
func (w *fuzzWorld) readKube(set string, declared map[state.Key]*unstructured.Unstructured) map[state.Key]*unstructured.Unstructured {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[state.Key]*unstructured.Unstructured{}
	for k, o := range w.objects {
		u := &unstructured.Unstructured{Object: runtimeCopy(o.obj).(map[string]any)}
		if _, ok := declared[k]; ok || state.OwnedBy(u, set) {
			out[k] = u
		}
	}
	return out
}

// predict is kube.Client.Predict: the server-side apply dry run.
func (w *fuzzWorld) predict(objs []*unstructured.Unstructured, data map[state.Key]map[string][]byte) map[state.Key]*unstructured.Unstructured {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[state.Key]*unstructured.Unstructured{}
	for _, o := range objs {
		key := state.ObjectKey(o)
		prev := w.objects[key]
		next := ssa(prev, withSecretData(o, data[key]))
		if prev != nil {
			pm, _ := prev.obj["metadata"].(map[string]any)
			md, _ := next.obj["metadata"].(map[string]any)
			md["uid"], md["creationTimestamp"], md["resourceVersion"] = pm["uid"], pm["creationTimestamp"], pm["resourceVersion"]
		}
		out[key] = &unstructured.Unstructured{Object: next.obj}
	}
	return out
}

// --- diff and sync, as the commands run them -------------------------------

// fuzzRun is one file with its environment and options.
type fuzzRun struct {
	yaml    string
	env     map[string]string
	dir     string
	prune   bool
	adopt   bool
	skipK8s bool
	want    map[string]poolExpect // what interpolation and merging must give
	file    *config.File
	desired *state.State
}

type poolExpect struct {
	description *string
	image       string // variables.properties.image.default, "" when not set
	namespace   string // variables.properties.namespace.default for kubernetes pools
}

func (r *fuzzRun) lookup(k string) (string, bool) { v, ok := r.env[k]; return v, ok }

// loaded loads the run's file once: every plan of a run starts from the
// same file.
func (r *fuzzRun) loaded(t *testing.T) (*config.File, *state.State) {
	t.Helper()
	if r.file == nil {
		r.file, r.desired = load(t, r)
	}
	return r.file, r.desired
}

// load runs load → validate → desired.Build and checks what interpolation
// and the job template merge produced.
func load(t *testing.T, r *fuzzRun) (*config.File, *state.State) {
	t.Helper()
	doc, probs := config.Parse(strings.NewReader(r.yaml), "pools.yaml", config.Options{LookupEnv: r.lookup})
	if len(probs) > 0 {
		t.Fatalf("the generated file does not parse:\n%s\n%s", probs, r.yaml)
	}
	file, probs := doc.Validate()
	if len(probs) > 0 {
		t.Fatalf("the generated file is not valid:\n%s\n%s", probs, r.yaml)
	}
	want, err := desired.Build(file, desired.Options{LookupEnv: r.lookup, Dir: r.dir, SkipKubernetes: r.skipK8s})
	if err != nil {
		t.Fatalf("building the desired state: %v\n%s", err, r.yaml)
	}
	for name, exp := range r.want {
		p := want.Pools[name]
		if p == nil {
			t.Fatalf("pool %q missing from the desired state\n%s", name, r.yaml)
		}
		if (p.Description == nil) != (exp.description == nil) || p.Description != nil && *p.Description != *exp.description {
			t.Fatalf("pool %q: description %v, want %v\n%s", name, show(p.Description), show(exp.description), r.yaml)
		}
		props, _ := p.BaseJobTemplate["variables"].(map[string]any)["properties"].(map[string]any)
		if exp.image != "" {
			if got := defaultOf(props, "image"); got != exp.image {
				t.Fatalf("pool %q: image default %v, want %q\n%s", name, got, exp.image, r.yaml)
			}
		}
		if exp.namespace != "" {
			if got := defaultOf(props, "namespace"); got != exp.namespace {
				t.Fatalf("pool %q: namespace default %v, want %q\n%s", name, got, exp.namespace, r.yaml)
			}
		}
	}
	return file, want
}

func defaultOf(props map[string]any, name string) any {
	v, _ := props[name].(map[string]any)
	return v["default"]
}

func show(p *string) string {
	if p == nil {
		return "nil"
	}
	return strconv.Quote(*p)
}

func usesKubernetes(f *config.File) bool {
	return f.Kubernetes != nil && len(f.Kubernetes.Resources)+len(f.Kubernetes.Secrets)+len(f.Kubernetes.External) > 0
}

// diff computes the plan as cli.computePlan does.
func (w *fuzzWorld) diff(t *testing.T, r *fuzzRun) (*plan.Plan, *config.File, *state.State) {
	t.Helper()
	file, want := r.loaded(t)
	live := w.readState()
	inv := w.inventory(file.Set)
	opts := plan.Options{Set: file.Set, Prune: r.prune, Adopt: r.adopt, Owned: inv.Owns}
	if !r.skipK8s && usesKubernetes(file) {
		objs := w.readKube(file.Set, want.Objects)
		var existing []*unstructured.Unstructured
		for k, o := range objs {
			live.Objects[k] = o
			if d, ok := want.Objects[k]; ok {
				existing = append(existing, d)
			}
		}
		opts.Predicted = w.predict(existing, want.SecretData)
		owned := opts.Owned
		opts.Owned = func(k state.Key) bool {
			if k.System == state.Kubernetes {
				o, ok := live.Objects[k]
				return ok && state.OwnedBy(o, file.Set)
			}
			return owned(k)
		}
	}
	p, err := plan.Compute(want, live, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, file, want
}

// sync plans, applies with apply.Execute and records ownership as
// cli.syncRun does, and returns the plan.
func (w *fuzzWorld) sync(t *testing.T, r *fuzzRun) *plan.Plan {
	t.Helper()
	p, file, want := w.diff(t, r)
	inv := w.inventory(file.Set)
	record := func(results []apply.Result) {
		for _, res := range results {
			if res.Status == apply.Applied && (res.Action == plan.Delete || res.Action == plan.Replace) {
				inv.Remove(res.Key)
			}
		}
		unmanaged := map[state.Key]bool{}
		for _, c := range p.Changes {
			if c.Action == plan.Unmanaged {
				unmanaged[c.Key] = true
			}
		}
		for k := range want.Pools {
			if !unmanaged[state.PoolKey(k)] {
				inv.Add(state.PoolKey(k))
			}
		}
		for k := range want.Queues {
			if !unmanaged[k] {
				inv.Add(k)
			}
		}
	}
	if !p.Writes() {
		record(nil)
		return p
	}
	record(nil)
	results := apply.Execute(context.Background(), p, apply.Targets{Prefect: w, Kubernetes: w,
		SecretData: want.SecretData, AllowReplace: true, Concurrency: 4})
	record(results)
	for _, res := range results {
		if res.Status != apply.Applied {
			t.Fatalf("%s %s: %s: %s\nplan:\n%s\nfile:\n%s", res.Action, res.Key, res.Status, res.Error, dumpPlan(p), r.yaml)
		}
	}
	return p
}

// checkConverged syncs r and plans it again: nothing may be left to write,
// and with --adopt nothing may differ.
func (w *fuzzWorld) checkConverged(t *testing.T, r *fuzzRun, what string) (first *plan.Plan) {
	t.Helper()
	first = w.sync(t, r)
	again, _, _ := w.diff(t, r)
	if again.Writes() || r.adopt && again.HasChanges() {
		t.Fatalf("%s: not converged after one sync; the second plan:\n%s\nthe first plan:\n%s\nfile:\n%s\nlive now:\n%s",
			what, dumpPlan(again), dumpPlan(first), r.yaml, w.dumpQueues())
	}
	return first
}

func dumpPlan(p *plan.Plan) string {
	var b strings.Builder
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "  %s %s", c.Action, c.Key)
		if c.Implicit {
			b.WriteString(" (implicit)")
		}
		for _, f := range c.Fields {
			if f.Sensitive {
				fmt.Fprintf(&b, " [%s]", f.Path)
				continue
			}
			fmt.Fprintf(&b, " [%s: %s → %s]", f.Path, short(f.Old, f.HasOld), short(f.New, f.HasNew))
		}
		if len(c.Patch) > 0 {
			keys := make([]string, 0, len(c.Patch))
			for k := range c.Patch {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			fmt.Fprintf(&b, " patch=%v", keys)
		}
		if c.Reason != "" {
			fmt.Fprintf(&b, " (%s)", c.Reason)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func short(v any, has bool) string {
	if !has {
		return "∅"
	}
	raw, _ := json.Marshal(v)
	if len(raw) > 60 {
		return string(raw[:60]) + "…"
	}
	return string(raw)
}

func (w *fuzzWorld) dumpQueues() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var lines []string
	for k, q := range w.queues {
		lines = append(lines, fmt.Sprintf("  %s priority %d", k, *q.q.Priority))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// --- out-of-band changes ---------------------------------------------------

// meddle changes the live state as people and workers do between syncs.
func (w *fuzzWorld) meddle(r *rand.Rand, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	pools := make([]string, 0, len(w.pools))
	for name := range w.pools {
		pools = append(pools, name)
	}
	sort.Strings(pools)
	var queues []state.Key
	for k := range w.queues {
		queues = append(queues, k)
	}
	state.SortKeys(queues)
	var objects []state.Key
	for k := range w.objects {
		objects = append(objects, k)
	}
	state.SortKeys(objects)
	for i := 0; i < n; i++ {
		switch r.Intn(12) {
		case 0: // a pool edited in the UI
			if len(pools) > 0 {
				p := w.pools[pools[r.Intn(len(pools))]]
				if p == nil {
					continue
				}
				switch r.Intn(4) {
				case 0:
					p.Description = ptr("edited by hand")
				case 1:
					p.Paused = ptr(!*p.Paused)
				case 2:
					p.ConcurrencyLimit = pick(r, nil, ptr(7))
				case 3:
					vars, _ := p.BaseJobTemplate["variables"].(map[string]any)
					if props, ok := vars["properties"].(map[string]any); ok {
						if img, ok := props["image"].(map[string]any); ok {
							img["default"] = "edited/by-hand:1"
						}
					}
				}
				p.Updated = w.tick()
			}
		case 1, 2: // a queue's priority, description or pause changed by hand
			if len(queues) > 0 {
				q := w.queues[queues[r.Intn(len(queues))]]
				if q == nil {
					continue
				}
				switch r.Intn(3) {
				case 0:
					w.setPriority(q, 1+r.Intn(4))
				case 1:
					q.q.Description = ptr("by hand")
				case 2:
					q.q.Paused = ptr(!*q.q.Paused)
				}
				q.q.Updated = w.tick()
			}
		case 3: // a queue deleted
			if len(queues) > 0 {
				k := queues[r.Intn(len(queues))]
				if k.Name != plan.DefaultQueue {
					delete(w.queues, k)
				}
			}
		case 4: // a pool deleted with its queues
			if len(pools) > 0 && r.Intn(2) == 0 {
				name := pools[r.Intn(len(pools))]
				delete(w.pools, name)
				for k := range w.queues {
					if k.Namespace == name {
						delete(w.queues, k)
					}
				}
			}
		case 5: // a pool made by hand, maybe with a declared name
			name := pick(r, fuzzPoolNames...)
			if _, ok := w.pools[name]; !ok {
				_ = w.createPool(&state.Pool{Name: name, Type: pick(r, "kubernetes", "process"), Description: ptr("hand-made")})
			}
		case 6: // a queue made by hand
			if len(pools) > 0 {
				pool := pools[r.Intn(len(pools))]
				if _, ok := w.pools[pool]; ok {
					_ = w.createQueue(&state.Queue{Pool: pool, Name: pick(r, fuzzQueueNames...), Priority: pick(r, nil, ptr(1), ptr(2))})
				}
			}
		case 7: // another field manager adds an annotation
			if len(objects) > 0 {
				if o := w.objects[objects[r.Intn(len(objects))]]; o != nil {
					md, _ := o.obj["metadata"].(map[string]any)
					ann, _ := md["annotations"].(map[string]any)
					if ann == nil {
						ann = map[string]any{}
						md["annotations"] = ann
					}
					ann["other.example/note"] = "kept"
					md["resourceVersion"] = w.tick()
				}
			}
		case 8: // someone removes the ownership labels
			if len(objects) > 0 {
				if o := w.objects[objects[r.Intn(len(objects))]]; o != nil {
					md, _ := o.obj["metadata"].(map[string]any)
					labels, _ := md["labels"].(map[string]any)
					delete(labels, state.SetLabel)
					delete(o.ours, "\x00metadata\x00labels\x00"+state.SetLabel)
					md["resourceVersion"] = w.tick()
				}
			}
		case 9: // an object deleted
			if len(objects) > 0 {
				delete(w.objects, objects[r.Intn(len(objects))])
			}
		case 10: // an object made by hand where the file declares one
			kind := pick(r, "ServiceAccount", "ConfigMap", "Namespace")
			var obj map[string]any
			switch kind {
			case "ServiceAccount":
				obj = map[string]any{"apiVersion": "v1", "kind": kind, "metadata": map[string]any{"name": "prefect-worker", "namespace": "prefect"},
					"automountServiceAccountToken": false}
			case "ConfigMap":
				obj = map[string]any{"apiVersion": "v1", "kind": kind, "metadata": map[string]any{"name": "settings", "namespace": "prefect",
					"labels": map[string]any{state.ManagedByLabel: state.ManagedByValue, state.SetLabel: "other-set"}}, "data": map[string]any{"mode": "hand"}}
			default:
				obj = map[string]any{"apiVersion": "v1", "kind": kind, "metadata": map[string]any{"name": "batch-jobs"}}
			}
			u := &unstructured.Unstructured{Object: obj}
			if _, ok := w.objects[state.ObjectKey(u)]; !ok {
				o := ssa(nil, obj)
				o.ours = map[string]bool{} // another manager's fields
				w.stamp(o, nil)
				w.objects[state.ObjectKey(u)] = o
			}
		case 11: // nothing this time
		}
	}
}

// --- random documents ------------------------------------------------------

var (
	fuzzPoolNames  = []string{"cpu", "gpu tasks #1", "mém-intensive", "io?batch", "zeta"}
	fuzzQueueNames = []string{"default", "urgent", "batch", "low prio", "ünïcode"}
)

// text is a string for the file, what interpolation must make of it, and
// the variables it needs.
type text struct{ raw, want string }

// interpolated returns a random string using ${VAR}, ${VAR:-default}, $$
// and lone $ signs, with the environment it needs and what it expands to.
func interpolated(r *rand.Rand, env map[string]string, parts ...string) text {
	var t text
	for _, p := range parts {
		switch r.Intn(7) {
		case 0: // a set variable
			name := "V_" + strings.Map(func(c rune) rune {
				if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
					return c
				}
				return '_'
			}, strings.ToUpper(p))
			if _, ok := env[name]; !ok {
				env[name] = p
			}
			t.raw += "${" + name + "}"
			t.want += env[name]
		case 1: // an unset variable with a default
			t.raw += "${UNSET_" + strconv.Itoa(r.Intn(3)) + ":-" + p + "}"
			t.want += p
		case 2: // an empty variable with a default
			env["EMPTY"] = ""
			t.raw += "${EMPTY:-" + p + "}"
			t.want += p
		case 3: // an escaped dollar
			t.raw += "$${" + p + "}"
			t.want += "${" + p + "}"
		case 4: // a lone dollar stays
			t.raw += "$" + p
			t.want += "$" + p
		default:
			t.raw += p
			t.want += p
		}
	}
	return t
}

type genFile struct {
	r       *rand.Rand
	env     map[string]string
	files   map[string]string
	want    map[string]poolExpect
	ns      string // kubernetes.namespace
	known   map[string]bool
	secrets map[string][]string // secret name in ns → keys
}

// genDocument returns a random valid pools.yaml.
func genDocument(r *rand.Rand) *fuzzRun {
	g := &genFile{r: r, env: map[string]string{}, files: map[string]string{}, want: map[string]poolExpect{},
		known: map[string]bool{}, secrets: map[string][]string{}}
	doc := map[string]any{}
	switch r.Intn(3) {
	case 0:
		doc["set"] = fuzzSet
	case 1:
		doc["set"] = "${SET:-" + fuzzSet + "}"
	default:
		g.env["SET"] = fuzzSet
		doc["set"] = "${SET}"
	}
	g.ns = "prefect"
	k8s := map[string]any{}
	if r.Intn(2) == 0 {
		k8s["namespace"] = "prefect"
	} else {
		k8s["namespace"] = "${NAMESPACE:-prefect}"
	}
	var resources []any
	add := func(kind, ns, name string, obj map[string]any) {
		md := map[string]any{"name": name}
		if ns != "" && ns != g.ns || ns != "" && r.Intn(2) == 0 {
			md["namespace"] = ns
		}
		if r.Intn(3) == 0 {
			md["labels"] = map[string]any{"team": interpolated(r, g.env, "data").raw}
		}
		obj["kind"] = kind
		obj["metadata"] = md
		resources = append(resources, obj)
		g.known[kind+"/"+ns+"/"+name] = true
	}
	if r.Intn(5) > 0 {
		add("Namespace", "", "prefect", map[string]any{"apiVersion": "v1"})
	}
	if r.Intn(3) == 0 {
		add("Namespace", "", "batch-jobs", map[string]any{"apiVersion": "v1"})
	}
	if r.Intn(4) > 0 {
		add("ServiceAccount", "prefect", "prefect-worker", map[string]any{"apiVersion": "v1"})
	}
	if g.known["Namespace//batch-jobs"] && r.Intn(2) == 0 {
		add("ServiceAccount", "batch-jobs", "prefect-worker", map[string]any{"apiVersion": "v1"})
	}
	if r.Intn(2) == 0 {
		verbs := pick(r, []any{"get", "list", "watch"}, []any{"get", "list", "watch", "create", "delete"})
		add("ClusterRole", "", "prefect-worker-role", map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1",
			"rules": []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"pods", "pods/log"}, "verbs": verbs},
				map[string]any{"apiGroups": []any{"batch"}, "resources": []any{"jobs"}, "verbs": []any{"get", "create"}}}})
		if g.known["ServiceAccount/prefect/prefect-worker"] && r.Intn(3) > 0 {
			add("ClusterRoleBinding", "", "prefect-worker-binding", map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1",
				"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "prefect-worker-role"},
				"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "prefect-worker", "namespace": "prefect"}}})
		}
	}
	if r.Intn(3) == 0 {
		add("Role", "prefect", "job-reader", map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1",
			"rules": []any{map[string]any{"apiGroups": []any{"batch"}, "resources": []any{"jobs"}, "verbs": []any{"get"}}}})
		if g.known["ServiceAccount/prefect/prefect-worker"] {
			add("RoleBinding", "prefect", "job-reader", map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1",
				"roleRef":  map[string]any{"kind": "Role", "name": "job-reader", "apiGroup": "rbac.authorization.k8s.io"},
				"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "prefect-worker"}}})
		}
	}
	if r.Intn(2) == 0 {
		add("ConfigMap", "prefect", "settings", map[string]any{"apiVersion": "v1",
			"data": map[string]any{"mode": pick(r, "fast", "safe"), "url": interpolated(r, g.env, "https://", "prefect.example", "/api").raw}})
	}
	if r.Intn(2) == 0 {
		add("PersistentVolumeClaim", "prefect", "shared-data", map[string]any{"apiVersion": "v1",
			"spec": map[string]any{"accessModes": []any{"ReadWriteOnce"}, "resources": map[string]any{"requests": map[string]any{"storage": pick(r, "1Gi", "10Gi")}}}})
	}
	if r.Intn(2) == 0 {
		keys := map[string]any{"auth-string": map[string]any{"fromEnv": "PREFECT_API_AUTH_STRING"}}
		g.env["PREFECT_API_AUTH_STRING"] = pick(r, "admin:one", "admin:two", "admin:thr€e")
		g.secrets["prefect-basic-auth"] = []string{"auth-string"}
		if r.Intn(2) == 0 {
			keys["token"] = map[string]any{"fromFile": "token.txt"}
			g.files["token.txt"] = pick(r, "t1\n", "t2", "")
			g.secrets["prefect-basic-auth"] = append(g.secrets["prefect-basic-auth"], "token")
		}
		sec := map[string]any{"name": "prefect-basic-auth", "keys": keys}
		if r.Intn(2) == 0 {
			sec["labels"] = map[string]any{"team": "data"}
		}
		k8s["secrets"] = []any{sec}
		g.known["Secret/prefect/prefect-basic-auth"] = true
	}
	if r.Intn(6) == 0 {
		k8s["external"] = []any{map[string]any{"kind": "Secret", "name": "registry-creds"}}
		g.known["Secret/prefect/registry-creds"] = true
	}
	// Objects in a namespace need the namespace declared.
	for k := range g.known {
		if strings.Contains(k, "/prefect/") && !g.known["Namespace//prefect"] {
			add("Namespace", "", "prefect", map[string]any{"apiVersion": "v1"})
		}
	}
	if len(resources) > 0 {
		k8s["resources"] = resources
	}
	if len(k8s) > 1 || r.Intn(2) == 0 {
		doc["kubernetes"] = k8s
	}
	if doc["kubernetes"] == nil {
		g.known = map[string]bool{}
		g.secrets = map[string][]string{}
		g.ns = "default"
	}

	names := append([]string(nil), fuzzPoolNames...)
	r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	var pools []any
	for _, name := range names[:1+r.Intn(len(names))] {
		pools = append(pools, g.pool(name))
	}
	doc["pools"] = pools

	var node yaml.Node
	if err := node.Encode(doc); err != nil {
		panic(err)
	}
	g.anchors(&node)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&node); err != nil {
		panic(err)
	}
	return &fuzzRun{yaml: buf.String(), env: g.env, want: g.want, prune: r.Intn(2) == 0, adopt: r.Intn(2) == 0,
		skipK8s: r.Intn(8) == 0, dir: writeFiles(g.files)}
}

// writeFiles puts fromFile sources in a temporary folder.
func writeFiles(files map[string]string) string {
	if len(files) == 0 {
		return ""
	}
	dir, err := os.MkdirTemp("", "fuzz-pipeline-")
	if err != nil {
		panic(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			panic(err)
		}
	}
	return dir
}

func (g *genFile) pool(name string) map[string]any {
	r := g.r
	p := map[string]any{"name": name}
	exp := poolExpect{}
	switch r.Intn(6) {
	case 0:
		p["type"] = "process"
	case 1:
		p["type"] = "docker"
		img := interpolated(r, g.env, "repo/flows", ":", "2")
		p["baseJobTemplate"] = map[string]any{
			"job_configuration": map[string]any{"image": "{{ image }}", "command": "{{ command }}", "env": map[string]any{"MODE": "raw"}},
			"variables": map[string]any{"type": "object", "properties": map[string]any{
				"image":   map[string]any{"type": "string", "default": img.raw},
				"command": map[string]any{"type": "string"},
			}},
		}
		exp.image = img.want
	default:
		p["type"] = "kubernetes"
		if r.Intn(5) > 0 {
			p["jobTemplate"] = g.jobTemplate(&exp)
		} else {
			exp.namespace = g.ns
		}
	}
	if r.Intn(3) > 0 {
		d := interpolated(r, g.env, "flows for ", "team", " and more")
		p["description"] = d.raw
		exp.description = &d.want
	}
	if r.Intn(2) == 0 {
		p["paused"] = r.Intn(3) == 0
	}
	if r.Intn(2) == 0 {
		p["concurrencyLimit"] = r.Intn(5)
	}
	names := append([]string(nil), fuzzQueueNames...)
	r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	prios := r.Perm(len(names) + 2)
	var queues []any
	for i, qn := range names[:r.Intn(len(names)+1)] {
		q := map[string]any{"name": qn}
		if r.Intn(4) > 0 {
			q["priority"] = prios[i] + 1
		}
		if r.Intn(3) == 0 {
			q["description"] = interpolated(r, g.env, "queue ", qn).raw
		}
		if r.Intn(3) == 0 {
			q["paused"] = r.Intn(2) == 0
		}
		if r.Intn(3) == 0 {
			q["concurrencyLimit"] = r.Intn(3)
		}
		queues = append(queues, q)
	}
	if len(queues) > 0 {
		p["queues"] = queues
	}
	g.want[name] = exp
	return p
}

func (g *genFile) jobTemplate(exp *poolExpect) map[string]any {
	r := g.r
	jt := map[string]any{}
	ns := g.ns
	if g.known["Namespace//batch-jobs"] && r.Intn(3) == 0 {
		ns = "batch-jobs"
		jt["namespace"] = ns
	}
	exp.namespace = ns
	if !g.known["Namespace//"+ns] {
		// A job namespace must be declared: fall back to "default".
		ns = "default"
		jt["namespace"] = ns
		exp.namespace = ns
	}
	if r.Intn(4) > 0 {
		img := interpolated(r, g.env, "gbifnorway/prefect-automations", ":", "latest")
		jt["image"] = img.raw
		exp.image = img.want
	}
	if r.Intn(3) == 0 {
		jt["imagePullPolicy"] = pick(r, "Always", "IfNotPresent", "Never")
	}
	if g.known["ServiceAccount/"+ns+"/prefect-worker"] && r.Intn(3) > 0 {
		jt["serviceAccountName"] = "prefect-worker"
	} else if r.Intn(4) == 0 {
		jt["serviceAccountName"] = "default"
	}
	if r.Intn(4) == 0 {
		jt["command"] = "python -m flows.run"
	}
	var env []any
	if r.Intn(2) == 0 {
		env = append(env, map[string]any{"name": "PREFECT_API_URL", "value": interpolated(r, g.env, "https://", "prefect.example", "/api").raw})
	}
	if keys := g.secrets["prefect-basic-auth"]; ns == g.ns && len(keys) > 0 && r.Intn(3) > 0 {
		env = append(env, map[string]any{"name": "PREFECT_API_AUTH_STRING",
			"valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "prefect-basic-auth", "key": pick(r, keys...)}}})
	}
	if g.known["ConfigMap/"+ns+"/settings"] && r.Intn(2) == 0 {
		env = append(env, map[string]any{"name": "MODE", "valueFrom": map[string]any{"configMapKeyRef": map[string]any{"name": "settings", "key": "mode"}}})
	}
	if r.Intn(3) == 0 {
		env = append(env, map[string]any{"name": "PRICE", "value": interpolated(r, g.env, "costs ", "5").raw})
	}
	if len(env) > 0 {
		jt["env"] = env
	}
	if r.Intn(2) == 0 {
		res := map[string]any{"requests": map[string]any{"cpu": pick(r, "500m", "1", "1000m", "0.5"), "memory": pick(r, "1Gi", "1024Mi", "512M")}}
		if r.Intn(2) == 0 {
			res["limits"] = map[string]any{"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}
		}
		jt["resources"] = res
	}
	if g.known["PersistentVolumeClaim/"+ns+"/shared-data"] && r.Intn(2) == 0 {
		jt["volumes"] = []any{map[string]any{"name": "data", "persistentVolumeClaim": map[string]any{"claimName": "shared-data"}}}
		jt["volumeMounts"] = []any{map[string]any{"name": "data", "mountPath": "/data"}}
	}
	if r.Intn(3) == 0 {
		jt["nodeSelector"] = map[string]any{"nvidia.com/gpu.present": "true"}
		jt["tolerations"] = []any{map[string]any{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}}
	}
	if r.Intn(3) == 0 {
		jt["labels"] = map[string]any{"team": "data", "cost-center": interpolated(r, g.env, "cc", "-42").raw}
	}
	if r.Intn(4) == 0 {
		jt["annotations"] = map[string]any{"example.com/owner": "data-team"}
	}
	if r.Intn(2) == 0 {
		jt["finishedJobTTL"] = pick(r, 60, 3600)
	}
	if r.Intn(3) == 0 {
		jt["backoffLimit"] = r.Intn(4)
	}
	if r.Intn(4) == 0 {
		jt["streamOutput"] = r.Intn(2) == 0
	}
	if r.Intn(4) == 0 {
		jt["jobWatchTimeoutSeconds"] = 600
		jt["podWatchTimeoutSeconds"] = 60
	}
	return jt
}

// anchors rewrites some pools' jobTemplate as `<<: *anchor` of the first
// kubernetes pool's, with an image of their own, as the example does.
func (g *genFile) anchors(root *yaml.Node) {
	doc := root
	if doc.Kind == yaml.DocumentNode {
		doc = doc.Content[0]
	}
	pools := mapValue(doc, "pools")
	if pools == nil {
		return
	}
	var first *yaml.Node
	for _, p := range pools.Content {
		jt := mapValue(p, "jobTemplate")
		if jt == nil {
			continue
		}
		if first == nil {
			first = jt
			continue
		}
		if g.r.Intn(2) == 0 {
			continue
		}
		first.Anchor = "shared"
		name := mapValue(p, "name").Value
		img := "merged/" + strings.NewReplacer(" ", "-", "#", "", "?", "").Replace(strings.ToLower(name)) + ":1"
		merged := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Value: "<<"},
			{Kind: yaml.AliasNode, Alias: first, Value: "shared"},
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: "image"},
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: img},
		}}
		setMapValue(p, "jobTemplate", merged)
		exp := g.want[name]
		exp.image = img
		exp.namespace = g.want[mapValue(firstPool(pools, first), "name").Value].namespace
		g.want[name] = exp
	}
}

func firstPool(pools, jt *yaml.Node) *yaml.Node {
	for _, p := range pools.Content {
		if mapValue(p, "jobTemplate") == jt {
			return p
		}
	}
	return nil
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setMapValue(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
		}
	}
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// --- the property ----------------------------------------------------------

// pipelineCase runs one seed: a file synced onto an empty or meddled-with
// world, then a second file (the next version) onto what the first left and
// people changed; each sync must converge.
func pipelineCase(t *testing.T, seed int64) {
	var stats fuzzStats
	stats.run(t, seed)
}

// TestPipelineConverges runs a few hundred seeded cases in every `go test`;
// PREFECT_APPLY_SOAK=1 runs PREFECT_APPLY_FUZZ_CASES of them (default
// 10000) and prints the figures.
func TestPipelineConverges(t *testing.T) {
	cases := 200
	if os.Getenv("PREFECT_APPLY_SOAK") == "1" {
		cases = 10000
		if n, err := strconv.Atoi(os.Getenv("PREFECT_APPLY_FUZZ_CASES")); err == nil && n > 0 {
			cases = n
		}
	}
	began := time.Now()
	var stats fuzzStats
	for i := 0; i < cases; i++ {
		stats.run(t, int64(20261126+i))
	}
	a := stats.actions
	t.Logf("pipeline fuzz: %d cases, %d syncs, %d server writes; planned: %d create, %d update, %d replace, %d delete, %d adopt, %d unmanaged left alone; %d Kubernetes changes, %d queue priorities set; 0 not converged; %v",
		cases, stats.syncs, stats.writes, a.Create, a.Update, a.Replace, a.Delete, a.Adopt, a.Unmanaged, stats.kube, stats.priorities,
		time.Since(began).Round(time.Millisecond))
	// The generator must reach every kind of change, or the property
	// proves little.
	if a.Create == 0 || a.Update == 0 || a.Replace == 0 || a.Delete == 0 || a.Adopt == 0 || a.Unmanaged == 0 || stats.kube == 0 {
		t.Fatalf("the generator missed a kind of change: %+v, %d Kubernetes", a, stats.kube)
	}
}

type fuzzStats struct {
	syncs, changed, writes, created, priorities int
	actions                                     plan.Summary
	kube                                        int // Kubernetes changes that write
}

func (s *fuzzStats) run(t *testing.T, seed int64) {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	w := newFuzzWorld()
	for i, n := 0, 1+r.Intn(3); i < n; i++ {
		run := genDocument(r)
		if run.dir != "" {
			defer os.RemoveAll(run.dir)
		}
		if r.Intn(3) > 0 {
			w.meddle(r, 1+r.Intn(6))
		}
		before := w.writes
		p := w.checkConverged(t, run, fmt.Sprintf("seed %d, file %d", seed, i+1))
		s.syncs++
		if p.Writes() {
			s.changed++
		}
		s.writes += w.writes - before
		sum := p.Summary()
		s.actions.Create += sum.Create
		s.actions.Update += sum.Update
		s.actions.Replace += sum.Replace
		s.actions.Delete += sum.Delete
		s.actions.Adopt += sum.Adopt
		s.actions.Unmanaged += sum.Unmanaged
		for _, c := range p.Pending() {
			if c.Key.System == state.Kubernetes {
				s.kube++
			}
		}
		for _, c := range p.Changes {
			if c.Action == plan.Create && c.Key.Kind == state.KindWorkPool {
				s.created++
			}
			if _, ok := c.Patch["priority"]; ok || c.Action == plan.Create && c.Queue != nil && c.Queue.Priority != nil {
				s.priorities++
			}
		}
	}
}

// The case the fuzzer found first, as the real server showed it: moving
// "a" to priority 1 shifts "b", whose priority was right, from 2 to 3; the
// plan sets it again.
func TestPriorityShiftedByAnEarlierQueue(t *testing.T) {
	w := newFuzzWorld()
	run := func(queues string) *fuzzRun {
		return &fuzzRun{yaml: "set: fz\npools:\n  - name: p\n    type: process\n    queues:\n" + queues}
	}
	w.checkConverged(t, run("      - {name: default, priority: 1}\n      - {name: b, priority: 2}\n      - {name: a, priority: 3}\n"), "first file")
	p := w.checkConverged(t, run("      - {name: a, priority: 1}\n      - {name: b, priority: 2}\n"), "second file")
	var got []string
	for _, c := range p.Pending() {
		got = append(got, fmt.Sprintf("%s %s %v %s", c.Action, c.Key, c.Patch, c.Reason))
	}
	want := []string{
		`update WorkQueue "p/a" map[priority:1] `,
		`update WorkQueue "p/b" map[priority:2] priority set again: applying the queues before it moves it to 3 on the server`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("pending changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if q := w.readState().Queues[state.QueueKey("p", "default")]; *q.Priority != 3 {
		t.Errorf("default queue at %d, want 3", *q.Priority)
	}
}

// FuzzPipeline is the same property for the fuzzer's seeds:
//
//	go test -run '^$' -fuzz '^FuzzPipeline$' -fuzztime 10m ./internal/plan/
func FuzzPipeline(f *testing.F) {
	for _, s := range []int64{1, 2, 3, 20261126, 42} {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(s))
		f.Add(b[:])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b [8]byte
		copy(b[:], data)
		pipelineCase(t, int64(binary.LittleEndian.Uint64(b[:])))
	})
}
