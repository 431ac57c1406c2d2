package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/kube"
	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/reconcile"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// memPrefect is an in-memory Prefect server for command tests: pools get a
// default queue, writes move `updated`, reads return copies.
type memPrefect struct {
	mu      sync.Mutex
	pools   map[string]*state.Pool
	queues  map[state.Key]*state.Queue
	vars    map[string]prefect.Variable
	workers map[string][]prefect.Worker
	late    map[string]int
	// deployments and runs are what ReadDependents returns, for the
	// pools asked; dependentReads counts its calls.
	deployments    []state.Deployment
	runs           map[state.Key]state.RunCounts
	dependentReads int
	// failNextVarWrite makes the next SetVariable fail.
	failNextVarWrite bool
	clock            int
	reads            int      // ReadState calls
	writes           []string // pool and queue writes, in order
}

var (
	_ PrefectClient          = (*memPrefect)(nil)
	_ reconcile.StatusClient = (*memPrefect)(nil)
)

func newMemPrefect() *memPrefect {
	return &memPrefect{pools: map[string]*state.Pool{}, queues: map[state.Key]*state.Queue{}, vars: map[string]prefect.Variable{},
		workers: map[string][]prefect.Worker{}, late: map[string]int{}}
}

func (m *memPrefect) ReadDependents(_ context.Context, pools []string) (*state.Dependents, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dependentReads++
	out := &state.Dependents{Runs: map[state.Key]state.RunCounts{}}
	for _, d := range m.deployments {
		if slices.Contains(pools, d.Pool) {
			out.Deployments = append(out.Deployments, d)
		}
	}
	for k, n := range m.runs {
		if slices.Contains(pools, k.Namespace) {
			out.Runs[k] = n
		}
	}
	return out, nil
}

// Overloads: the in-memory servers are never overloaded.
func (m *memPrefect) Overloads() int64 { return 0 }

func (m *memPrefect) tick() string {
	m.clock++
	return fmt.Sprintf("2026-11-26T10:00:%02d.000000Z", m.clock)
}

func (m *memPrefect) CreatePool(_ context.Context, p *state.Pool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.pools[p.Name]; ok {
		return fmt.Errorf("pool %q exists", p.Name)
	}
	c := copyOf(p)
	if c.Paused == nil {
		c.Paused = new(bool)
	}
	if c.Description == nil {
		c.Description = new(string)
	}
	c.ID, c.Updated, c.Status = "pool-"+p.Name, m.tick(), "NOT_READY"
	m.pools[p.Name] = c
	one := 1
	m.queues[state.QueueKey(p.Name, "default")] = &state.Queue{Pool: p.Name, Name: "default", Priority: &one, Paused: new(bool),
		Description: new(string), ID: "queue-" + p.Name + "-default", Updated: m.tick()}
	m.writes = append(m.writes, "create pool "+p.Name)
	return nil
}

func (m *memPrefect) UpdatePool(_ context.Context, name string, u state.PoolUpdate) error {
	fields := prefect.PoolFields(u.Pool, u.Fields)
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pools[name]
	if !ok {
		return fmt.Errorf("no pool %q", name)
	}
	raw, _ := json.Marshal(fields)
	var f struct {
		Description      *string        `json:"description"`
		IsPaused         *bool          `json:"is_paused"`
		ConcurrencyLimit *int           `json:"concurrency_limit"`
		BaseJobTemplate  map[string]any `json:"base_job_template"`
	}
	_ = json.Unmarshal(raw, &f)
	if _, ok := fields["description"]; ok {
		p.Description = f.Description
	}
	if _, ok := fields["is_paused"]; ok {
		p.Paused = f.IsPaused
	}
	if _, ok := fields["concurrency_limit"]; ok {
		p.ConcurrencyLimit = f.ConcurrencyLimit
	}
	if _, ok := fields["base_job_template"]; ok {
		p.BaseJobTemplate = f.BaseJobTemplate
	}
	p.Updated = m.tick()
	m.writes = append(m.writes, "update pool "+name)
	return nil
}

func (m *memPrefect) DeletePool(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pools, name)
	for k := range m.queues {
		if k.Namespace == name {
			delete(m.queues, k)
		}
	}
	m.writes = append(m.writes, "delete pool "+name)
	return nil
}

func (m *memPrefect) CreateQueue(_ context.Context, q *state.Queue) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *q
	if c.Paused == nil {
		c.Paused = new(bool)
	}
	c.ID, c.Updated = "queue-"+q.Pool+"-"+q.Name, m.tick()
	m.queues[state.QueueKey(q.Pool, q.Name)] = &c
	m.writes = append(m.writes, "create queue "+q.Pool+"/"+q.Name)
	return nil
}

func (m *memPrefect) UpdateQueue(_ context.Context, pool, name string, u state.QueueUpdate) error {
	fields := prefect.QueueFields(u.Queue, u.Fields)
	m.mu.Lock()
	defer m.mu.Unlock()
	q, ok := m.queues[state.QueueKey(pool, name)]
	if !ok {
		return fmt.Errorf("no queue %s/%s", pool, name)
	}
	raw, _ := json.Marshal(fields)
	var f struct {
		Description      *string `json:"description"`
		IsPaused         *bool   `json:"is_paused"`
		ConcurrencyLimit *int    `json:"concurrency_limit"`
		Priority         *int    `json:"priority"`
	}
	_ = json.Unmarshal(raw, &f)
	if _, ok := fields["description"]; ok {
		q.Description = f.Description
	}
	if _, ok := fields["is_paused"]; ok {
		q.Paused = f.IsPaused
	}
	if _, ok := fields["concurrency_limit"]; ok {
		q.ConcurrencyLimit = f.ConcurrencyLimit
	}
	if _, ok := fields["priority"]; ok {
		q.Priority = f.Priority
	}
	q.Updated = m.tick()
	m.writes = append(m.writes, "update queue "+pool+"/"+name)
	return nil
}

func (m *memPrefect) DeleteQueue(_ context.Context, pool, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.queues, state.QueueKey(pool, name))
	m.writes = append(m.writes, "delete queue "+pool+"/"+name)
	return nil
}

func (m *memPrefect) ListVariables(_ context.Context, prefix string) ([]prefect.Variable, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []prefect.Variable
	for n, v := range m.vars {
		if strings.HasPrefix(n, prefix) {
			out = append(out, v)
		}
	}
	return out, nil
}

func (m *memPrefect) SetVariable(_ context.Context, name string, value any, tags []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failNextVarWrite {
		m.failNextVarWrite = false
		return fmt.Errorf("writing variable %q: 503 Service Unavailable", name)
	}
	m.vars[name] = prefect.Variable{Name: name, Value: value, Tags: tags}
	return nil
}

func (m *memPrefect) DeleteVariable(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.vars, name)
	return nil
}

func (m *memPrefect) ReadState(context.Context) (*state.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	s := state.New()
	for _, p := range m.pools {
		s.AddPool(copyOf(p))
	}
	for _, q := range m.queues {
		s.AddQueue(copyOf(q))
	}
	return s, nil
}

func (m *memPrefect) Stats() map[string]int { return map[string]int{} }

func (m *memPrefect) ListPools(context.Context) ([]*state.Pool, error) {
	s, _ := m.ReadState(context.Background())
	var out []*state.Pool
	for _, p := range s.Pools {
		out = append(out, p)
	}
	return out, nil
}

func (m *memPrefect) ListQueueStatus(_ context.Context, _ []string) ([]prefect.QueueStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []prefect.QueueStatus
	for _, q := range m.queues {
		status := "NOT_READY"
		if len(m.workers[q.Pool]) > 0 {
			status = "READY"
		}
		out = append(out, prefect.QueueStatus{Pool: q.Pool, Name: q.Name, ID: q.ID, Priority: q.Priority,
			ConcurrencyLimit: q.ConcurrencyLimit, Paused: q.Paused != nil && *q.Paused, Status: status})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pool != out[j].Pool {
			return out[i].Pool < out[j].Pool
		}
		return *out[i].Priority < *out[j].Priority
	})
	return out, nil
}

func (m *memPrefect) ListWorkers(_ context.Context, pool string) ([]prefect.Worker, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.workers[pool], nil
}

func (m *memPrefect) CountLateRuns(_ context.Context, pool string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.late[pool], nil
}

func copyOf[T any](v *T) *T {
	raw, _ := json.Marshal(v)
	var out T
	_ = json.Unmarshal(raw, &out)
	return &out
}

// memKube is an in-memory cluster: what sync applies, with a
// resourceVersion that moves on every write.
type memKube struct {
	mu      sync.Mutex
	objects map[state.Key]*unstructured.Unstructured
	version int
	// namespaces records what each ReadLive was given.
	namespaces [][]string
	// dryRunCreates records the new objects each Predict was given, and
	// refuse holds the server's reason for objects its dry run refuses.
	dryRunCreates [][]state.Key
	refuse        map[state.Key]string
}

var _ KubeClient = (*memKube)(nil)

func (k *memKube) Overloads() int64 { return 0 }

func (k *memKube) Apply(_ context.Context, obj *unstructured.Unstructured, data map[string][]byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := obj.DeepCopy()
	if len(data) > 0 {
		d := map[string]any{}
		for n, v := range data {
			d[n] = string(v)
		}
		c.Object["data"] = d
	}
	k.version++
	c.SetResourceVersion(fmt.Sprint(k.version))
	k.objects[keyOf(c)] = c
	return nil
}

func (k *memKube) Delete(_ context.Context, key state.Key) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.objects, key)
	return nil
}

func (k *memKube) Replace(ctx context.Context, obj *unstructured.Unstructured, data map[string][]byte) error {
	if err := k.Delete(ctx, keyOf(obj)); err != nil {
		return err
	}
	return k.Apply(ctx, obj, data)
}

// ReadLive returns every object (the labels are the planner's business),
// but, as the real lists do, namespaced ones only in namespaces unless it
// is nil, and the declared ones wherever they are.
func (k *memKube) ReadLive(_ context.Context, _ string, declared []state.Key, namespaces []string) (map[state.Key]*unstructured.Unstructured, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.namespaces = append(k.namespaces, namespaces)
	out := map[state.Key]*unstructured.Unstructured{}
	for key, o := range k.objects {
		if namespaces == nil || key.Namespace == "" || slices.Contains(namespaces, key.Namespace) || slices.Contains(declared, key) {
			out[key] = o.DeepCopy()
		}
	}
	return out, nil
}

// Predict says the server would store the declared object as the live one
// is, so an applied object is in sync.
func (k *memKube) Predict(_ context.Context, objs, created []*unstructured.Unstructured, _ map[state.Key]map[string][]byte) (*kube.DryRun, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := &kube.DryRun{Predicted: map[state.Key]*unstructured.Unstructured{}, Refused: map[state.Key]string{}}
	for _, o := range objs {
		if why, ok := k.refuse[keyOf(o)]; ok {
			out.Refused[keyOf(o)] = why
			continue
		}
		if live, ok := k.objects[keyOf(o)]; ok {
			out.Predicted[keyOf(o)] = live.DeepCopy()
		}
	}
	var keys []state.Key
	for _, o := range created {
		keys = append(keys, keyOf(o))
		if why, ok := k.refuse[keyOf(o)]; ok {
			out.Refused[keyOf(o)] = why
		}
	}
	k.dryRunCreates = append(k.dryRunCreates, keys)
	return out, nil
}

func (k *memKube) Get(_ context.Context, key state.Key) (*unstructured.Unstructured, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	o, ok := k.objects[key]
	return o, ok, nil
}

func (k *memKube) Stats() map[string]int { return map[string]int{} }

func keyOf(o *unstructured.Unstructured) state.Key {
	gv := o.GetAPIVersion()
	group := ""
	if i := strings.Index(gv, "/"); i >= 0 {
		group = gv[:i]
	}
	return state.Key{System: state.Kubernetes, Group: group, Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName()}
}

// memWorld runs commands against a memPrefect (and memKube).
type memWorld struct {
	t       *testing.T
	dir     string
	vars    map[string]string
	prefect *memPrefect
	kube    *memKube
}

func newMemWorld(t *testing.T) *memWorld {
	return &memWorld{t: t, dir: t.TempDir(), vars: map[string]string{"PREFECT_API_URL": "http://127.0.0.1:9/api"},
		prefect: newMemPrefect(), kube: &memKube{objects: map[state.Key]*unstructured.Unstructured{}}}
}

func (w *memWorld) env() *Env {
	return &Env{
		LookupEnv:  func(k string) (string, bool) { v, ok := w.vars[k]; return v, ok },
		HomeDir:    w.dir,
		NewPrefect: func(prefect.Connection) (PrefectClient, error) { return w.prefect, nil },
		NewKube:    func(kube.Options) (KubeClient, error) { return w.kube, nil },
	}
}

// run runs prefect-apply and returns the exit code, stdout and stderr.
func (w *memWorld) run(args ...string) (int, string, string) {
	w.t.Helper()
	ios, _, out, errOut := Test()
	code := Run(context.Background(), ios, w.env(), args)
	return code, out.String(), errOut.String()
}

func (w *memWorld) mustRun(want int, args ...string) (string, string) {
	w.t.Helper()
	code, out, errOut := w.run(args...)
	if code != want {
		w.t.Fatalf("prefect-apply %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out, errOut
}

// write puts a file into the world's folder and returns its path.
func (w *memWorld) write(name, content string) string {
	w.t.Helper()
	path := filepath.Join(w.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
	return path
}

func queueKey(pool, name string) state.Key { return state.QueueKey(pool, name) }
