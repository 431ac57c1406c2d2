package plan_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/apply"
	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/desired"
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
		if c.Updates != 0 {
			fmt.Fprintf(&b, " updates=%s", c.Updates)
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
			if c.Updates.Has(state.FieldPriority) || c.Action == plan.Create && c.Queue != nil && c.Queue.Priority != nil {
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
		got = append(got, fmt.Sprintf("%s %s %v %s", c.Action, c.Key, sentBody(c), c.Reason))
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
