package reconcile_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// The in-memory Prefect server and cluster the pipeline fuzzing applies
// its plans to (fuzz_pipeline_test.go).

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
	vars    map[string]prefect.Variable // the inventories' parts, by name
	seq     int
	writes  int
	// refusedEmpty counts the prunes refused as emptying the set.
	refusedEmpty int
}

func newFuzzWorld() *fuzzWorld {
	return &fuzzWorld{pools: map[string]*state.Pool{}, queues: map[state.Key]*fuzzQueue{},
		objects: map[state.Key]*fuzzObject{}, vars: map[string]prefect.Variable{}}
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

// UpdatePool receives the body the Prefect client sends for u, and applies
// it as the server does.
func (w *fuzzWorld) UpdatePool(_ context.Context, name string, u state.PoolUpdate) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.pools[name]
	if !ok {
		return apiError{404, "no pool " + name}
	}
	sent, f, err := fields(prefect.PoolFields(u.Pool, u.Fields))
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

// UpdateQueue receives the body the Prefect client sends for u, and
// applies it as the server does.
func (w *fuzzWorld) UpdateQueue(_ context.Context, pool, name string, u state.QueueUpdate) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.updateQueue(pool, name, prefect.QueueFields(u.Queue, u.Fields))
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

func (w *fuzzWorld) Replace(ctx context.Context, obj *unstructured.Unstructured, data map[string][]byte) error {
	if err := w.Delete(ctx, state.ObjectKey(obj)); err != nil {
		return err
	}
	return w.Apply(ctx, obj, data)
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
