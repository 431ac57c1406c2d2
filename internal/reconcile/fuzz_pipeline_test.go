package reconcile_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/apply"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/reconcile"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// The whole pipeline, fuzzed, through the code diff and sync run: a random
// but valid pools.yaml (interpolation, anchors and merge keys, job template
// overrides and raw templates, RBAC, Secrets from the environment and from
// files) is planned by reconcile.Plan and applied by reconcile.Apply
// against an in-memory Prefect server and cluster that behave as the real
// ones do where it matters (the server's default queue, priority shifting,
// 409/404 on creating what exists or updating what does not, server-side
// apply with field ownership and defaulting, the inventories in Prefect
// Variables); a live state comes from syncing an earlier random file and
// changing things out of band. Every guard of the real run applies: the
// emptying prune is refused (and then allowed), objects in use are kept,
// external objects are checked. Then the same file planned again must
// write nothing: Plan(x, Apply(Plan(x, live))) is empty.

const fuzzSet = "fz"

// --- diff and sync, through reconcile --------------------------------------

// fuzzRun is one file with its environment and options.
type fuzzRun struct {
	yaml    string
	env     map[string]string
	dir     string // the file and its fromFile sources; made when empty
	prune   bool
	adopt   bool
	skipK8s bool
	want    map[string]poolExpect // what interpolation and merging must give
	path    string                // where the file was written
	checked bool                  // the desired state met want
}

type poolExpect struct {
	description *string
	image       string // variables.properties.image.default, "" when not set
	namespace   string // variables.properties.namespace.default for kubernetes pools
}

func (r *fuzzRun) lookup(k string) (string, bool) { v, ok := r.env[k]; return v, ok }

// file writes the run's pools.yaml once, beside its fromFile sources.
func (r *fuzzRun) file(t *testing.T) string {
	t.Helper()
	if r.path != "" {
		return r.path
	}
	if r.dir == "" {
		r.dir = t.TempDir()
	}
	r.path = filepath.Join(r.dir, "fuzz-pools.yaml")
	if err := os.WriteFile(r.path, []byte(r.yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return r.path
}

func (r *fuzzRun) inputs(t *testing.T, w *fuzzWorld) reconcile.Inputs {
	return reconcile.Inputs{File: r.file(t), PrefectURL: "http://127.0.0.1:1/api", LookupEnv: r.lookup,
		Prune: r.prune, Adopt: r.adopt, SkipKubernetes: r.skipK8s, Connect: w.connect()}
}

// checkExpected checks what interpolation and the job template merge
// produced.
func checkExpected(t *testing.T, r *fuzzRun, want *state.State) {
	t.Helper()
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

// diff computes the plan with reconcile.Plan, as diff and sync do. A
// prune that would empty the set must be refused for that reason alone;
// it is then planned again with --allow-empty.
func (w *fuzzWorld) diff(t *testing.T, r *fuzzRun) *reconcile.Planned {
	t.Helper()
	in := r.inputs(t, w)
	p, err := reconcile.Plan(context.Background(), in)
	var empty *reconcile.EmptyingError
	if errors.As(err, &empty) {
		w.refusedEmpty++
		in.AllowEmpty = true
		p, err = reconcile.Plan(context.Background(), in)
		if err == nil && !emptiesSet(p) {
			t.Fatalf("a prune was refused as emptying the set, but its plan keeps something:\n%s\nfile:\n%s", dumpPlan(p.Plan), r.yaml)
		}
	}
	if err != nil {
		t.Fatalf("planning: %v\nfile:\n%s", err, r.yaml)
	}
	if !r.checked {
		checkExpected(t, r, p.Desired)
		r.checked = true
	}
	return p
}

// emptiesSet reports whether a plan deletes something and keeps nothing
// the set owns: what the guard refuses.
func emptiesSet(p *reconcile.Planned) bool {
	owned := func(k state.Key) bool {
		if k.System == state.Kubernetes {
			o := p.Live.Objects[k]
			return o != nil && state.OwnedBy(o, p.File.Set)
		}
		return p.Inventory.Owns(k)
	}
	deletes := 0
	for _, c := range p.Plan.Changes {
		switch {
		case c.Action == plan.Delete:
			deletes++
		case c.Action != plan.Orphan && owned(c.Key):
			return false
		}
	}
	return deletes > 0
}

// sync plans and applies with reconcile.Apply, as sync does, and returns
// the plan.
func (w *fuzzWorld) sync(t *testing.T, r *fuzzRun) *plan.Plan {
	t.Helper()
	p := w.diff(t, r)
	out, err := reconcile.Apply(context.Background(), p, reconcile.ApplyOptions{AllowReplace: true, Concurrency: 4})
	if err != nil {
		t.Fatalf("recording ownership: %v", err)
	}
	for _, res := range out.Results {
		if res.Status != apply.Applied {
			t.Fatalf("%s %s: %s: %s\nplan:\n%s\nfile:\n%s", res.Action, res.Key, res.Status, res.Error, dumpPlan(p.Plan), r.yaml)
		}
	}
	if out.Recorded != nil {
		t.Fatalf("recording ownership after applying: %v", out.Recorded)
	}
	return p.Plan
}

// checkConverged syncs r and plans it again: nothing may be left to write,
// and with --adopt nothing may differ.
func (w *fuzzWorld) checkConverged(t *testing.T, r *fuzzRun, what string) (first *plan.Plan) {
	t.Helper()
	first = w.sync(t, r)
	again := w.diff(t, r).Plan
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
		for flag, on := range map[string]bool{"take": c.Take, "release": c.Release, "unowned": c.Unowned, "kept": c.Kept} {
			if on {
				b.WriteString(" (" + flag + ")")
			}
		}
		if len(c.OtherSets) > 0 {
			fmt.Fprintf(&b, " (other sets %v)", c.OtherSets)
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
				if k := objects[r.Intn(len(objects))]; k != externalSecret {
					delete(w.objects, k)
				}
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
	t.Logf("pipeline fuzz: %d cases, %d syncs, %d server writes; planned: %d create, %d update, %d replace, %d delete, %d adopt, %d unmanaged left alone; %d Kubernetes changes, %d queue priorities set, %d prunes refused as emptying the set, %d objects taken from another set, %d left to it; 0 not converged; %v",
		cases, stats.syncs, stats.writes, a.Create, a.Update, a.Replace, a.Delete, a.Adopt, a.Unmanaged, stats.kube, stats.priorities, stats.refusedEmpty, stats.taken, stats.released,
		time.Since(began).Round(time.Millisecond))
	// The generator must reach every kind of change, or the property
	// proves little.
	if a.Create == 0 || a.Update == 0 || a.Replace == 0 || a.Delete == 0 || a.Adopt == 0 || a.Unmanaged == 0 || stats.kube == 0 ||
		stats.refusedEmpty == 0 || stats.taken == 0 || stats.released == 0 {
		t.Fatalf("the generator missed a kind of change: %+v, %d Kubernetes, %d refused prunes, %d taken, %d released",
			a, stats.kube, stats.refusedEmpty, stats.taken, stats.released)
	}
}

type fuzzStats struct {
	syncs, changed, writes, created, priorities int
	actions                                     plan.Summary
	kube                                        int // Kubernetes changes that write
	refusedEmpty                                int // prunes refused as emptying the set
	taken, released                             int // objects taken from or left to another set
}

func (s *fuzzStats) run(t *testing.T, seed int64) {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	w := newFuzzWorld().withExternal()
	for i, n := 0, 1+r.Intn(3); i < n; i++ {
		run := genDocument(r)
		if run.dir != "" {
			defer os.RemoveAll(run.dir)
		}
		if r.Intn(3) > 0 {
			w.meddle(r, 1+r.Intn(6))
		}
		if r.Intn(4) == 0 {
			w.claimForOtherSet(t, r)
		}
		before := w.writes
		p := w.checkConverged(t, run, fmt.Sprintf("seed %d, file %d", seed, i+1))
		s.syncs++
		if p.Writes() {
			s.changed++
		}
		s.writes += w.writes - before
		s.refusedEmpty += w.refusedEmpty
		w.refusedEmpty = 0
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
			if c.Take {
				s.taken++
			}
			if c.Release {
				s.released++
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
