package plan

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

var update = flag.Bool("update", false, "rewrite the want.txt files of testdata/")

// fixture is one side of a testdata case.
type fixture struct {
	Pools   []*state.Pool    `json:"pools"`
	Queues  []*state.Queue   `json:"queues"`
	Objects []map[string]any `json:"objects"`
	// Secrets: key "Namespace/Name" → data, for the desired side.
	Secrets map[string]map[string]string `json:"secrets"`
}

type options struct {
	Prune bool     `json:"prune"`
	Adopt bool     `json:"adopt"`
	Owned []string `json:"owned"` // keys as Key.String()
}

func loadState(t *testing.T, path string) *state.State {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	s := state.New()
	for _, p := range f.Pools {
		s.AddPool(p)
	}
	for _, q := range f.Queues {
		s.AddQueue(q)
	}
	for _, o := range f.Objects {
		u := &unstructured.Unstructured{Object: o}
		s.Objects[state.ObjectKey(u)] = u
	}
	for ref, data := range f.Secrets {
		ns, name, _ := strings.Cut(ref, "/")
		key := state.Key{System: state.Kubernetes, Kind: "Secret", Namespace: ns, Name: name}
		s.SecretData[key] = map[string][]byte{}
		for k, v := range data {
			s.SecretData[key][k] = []byte(v)
		}
	}
	return s
}

// describe renders a plan compactly for the want.txt files.
func describe(p *Plan) string {
	var b strings.Builder
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "%s %s", c.Action, c.Key)
		if c.Implicit {
			b.WriteString(" implicit")
		}
		if c.Unowned {
			b.WriteString(" unowned")
		}
		b.WriteString("\n")
		if c.Reason != "" {
			fmt.Fprintf(&b, "  reason: %s\n", c.Reason)
		}
		for _, f := range c.Fields {
			old, new := "∅", "∅"
			if f.HasOld {
				old = js(f.Old)
			}
			if f.HasNew {
				new = js(f.New)
			}
			fmt.Fprintf(&b, "  %s: %s → %s\n", f.Path, old, new)
		}
		if c.Updates != 0 {
			fmt.Fprintf(&b, "  patch: %s\n", js(updateBody(c)))
		}
		for _, d := range c.DependsOn {
			fmt.Fprintf(&b, "  after: %s\n", d)
		}
	}
	return b.String()
}

func js(v any) string {
	raw, _ := json.Marshal(v)
	if len(raw) > 120 {
		return string(raw[:117]) + "..."
	}
	return string(raw)
}

// Each folder of testdata/ holds desired.json, live.json, optionally
// options.json, and want.txt, the expected plan (go test -update rewrites it).
func TestComputeFixtures(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			desired := loadState(t, filepath.Join(dir, "desired.json"))
			live := loadState(t, filepath.Join(dir, "live.json"))
			var o options
			if raw, err := os.ReadFile(filepath.Join(dir, "options.json")); err == nil {
				if err := json.Unmarshal(raw, &o); err != nil {
					t.Fatal(err)
				}
			}
			owned := map[string]bool{}
			for _, k := range o.Owned {
				owned[k] = true
			}
			p, err := Compute(desired, live, Options{Set: "test", Prune: o.Prune, Adopt: o.Adopt, Owned: func(k state.Key) bool { return owned[k.String()] }})
			if err != nil {
				t.Fatal(err)
			}
			got := describe(p)
			want := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(want, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			raw, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(raw) {
				t.Errorf("plan differs from %s (go test -update rewrites it):\n--- got\n%s--- want\n%s", want, got, raw)
			}
			if out, _ := json.Marshal(p); strings.Contains(string(out), "CANARY") {
				t.Errorf("the plan's JSON holds a secret value: %s", out)
			}
		})
	}
}

// Applying a plan to the live state and planning again leaves nothing to do.
func TestComputeConverges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		desired, live := randomState(rng, true), randomState(rng, false)
		owned := map[state.Key]bool{}
		for name := range live.Pools {
			if rng.IntN(2) == 0 {
				owned[state.PoolKey(name)] = true
			}
		}
		for k := range live.Queues {
			if rng.IntN(2) == 0 {
				owned[k] = true
			}
		}
		opts := Options{Set: "s", Prune: rng.IntN(2) == 0, Adopt: rng.IntN(2) == 0, Owned: func(k state.Key) bool { return owned[k] }}
		p, err := Compute(desired, live, opts)
		if err != nil {
			t.Fatal(err)
		}
		simulate(p, live)
		// As sync records it: every declared object not left unmanaged
		// is owned afterwards; deleted ones are not.
		for _, c := range p.Changes {
			switch c.Action {
			case Unmanaged:
			case Delete:
				delete(owned, c.Key)
			default:
				if _, declared := desired.Pools[c.Key.Name]; c.Key.Kind == state.KindWorkPool && declared {
					owned[c.Key] = true
				}
				if _, declared := desired.Queues[c.Key]; declared {
					owned[c.Key] = true
				}
			}
		}
		again, err := Compute(desired, live, opts)
		if err != nil {
			t.Fatal(err)
		}
		if again.Writes() {
			t.Fatalf("case %d: a second plan still has changes:\n%s\nfirst plan:\n%s", i, describe(again), describe(p))
		}
	}
}

func randomState(rng *rand.Rand, desired bool) *state.State {
	s := state.New()
	types := []string{"kubernetes", "process"}
	for i := 0; i < rng.IntN(5); i++ {
		name := fmt.Sprintf("pool-%d", rng.IntN(6))
		p := &state.Pool{Name: name, Type: types[rng.IntN(2)],
			BaseJobTemplate: map[string]any{"job_configuration": map[string]any{"image": fmt.Sprint(rng.IntN(3))}, "variables": map[string]any{"properties": map[string]any{}}}}
		if rng.IntN(2) == 0 || !desired {
			d := fmt.Sprint("d", rng.IntN(2))
			p.Description = &d
		}
		if rng.IntN(2) == 0 {
			n := rng.IntN(3)
			p.ConcurrencyLimit = &n
		}
		if rng.IntN(2) == 0 || !desired {
			b := rng.IntN(2) == 0
			p.Paused = &b
		}
		s.AddPool(p)
		names := []string{"default", "a", "b", "c"}
		prio := 1
		for _, qn := range names {
			if qn != "default" && rng.IntN(2) == 0 {
				continue
			}
			if qn == "default" && desired && rng.IntN(2) == 0 {
				continue
			}
			q := &state.Queue{Pool: name, Name: qn}
			if rng.IntN(2) == 0 || !desired {
				p := prio
				q.Priority = &p
			}
			prio++
			if rng.IntN(2) == 0 || !desired {
				d := fmt.Sprint("q", rng.IntN(2))
				q.Description = &d
			}
			s.AddQueue(q)
		}
	}
	return s
}

// simulate applies a plan's Prefect changes to a state the way the server
// would (new pools get a default queue).
func simulate(p *Plan, live *state.State) {
	for _, c := range p.Pending() {
		switch c.Key.Kind {
		case state.KindWorkPool:
			switch c.Action {
			case Create, Replace:
				for k, q := range live.Queues {
					if q.Pool == c.Key.Name {
						delete(live.Queues, k)
					}
				}
				np := *c.Pool
				if np.Description == nil {
					np.Description = new(string)
				}
				live.AddPool(&np)
				one := 1
				d := "The work pool's default queue."
				live.AddQueue(&state.Queue{Pool: np.Name, Name: "default", Priority: &one, Description: &d})
			case Update:
				applyPoolUpdate(live.Pools[c.Key.Name], c.Pool, c.Updates)
			case Delete:
				delete(live.Pools, c.Key.Name)
				for k, q := range live.Queues {
					if q.Pool == c.Key.Name {
						delete(live.Queues, k)
					}
				}
			}
		case state.KindWorkQueue:
			switch {
			case c.Action == Create && c.Implicit, c.Action == Update:
				applyQueueUpdate(live.Queues[c.Key], c.Queue, c.Updates)
			case c.Action == Create:
				q := *c.Queue
				live.AddQueue(&q)
			case c.Action == Delete:
				delete(live.Queues, c.Key)
			}
		}
	}
}

// updateBody is what applying c sends to the server, in the API's names.
func updateBody(c Change) map[string]any {
	if c.Key.Kind == state.KindWorkPool {
		return prefect.PoolFields(c.Pool, c.Updates)
	}
	return prefect.QueueFields(c.Queue, c.Updates)
}

// applyPoolUpdate sets the fields of p that an update sets to d's values.
func applyPoolUpdate(p, d *state.Pool, fields state.Fields) {
	for f := range fields.All() {
		switch f {
		case state.FieldDescription:
			p.Description = copyOf(d.Description)
		case state.FieldPaused:
			p.Paused = copyOf(d.Paused)
		case state.FieldConcurrencyLimit:
			p.ConcurrencyLimit = copyOf(d.ConcurrencyLimit)
		case state.FieldBaseJobTemplate:
			p.BaseJobTemplate = d.BaseJobTemplate
		}
	}
}

// applyQueueUpdate sets the fields of q that an update sets to d's values.
func applyQueueUpdate(q, d *state.Queue, fields state.Fields) {
	for f := range fields.All() {
		switch f {
		case state.FieldDescription:
			q.Description = copyOf(d.Description)
		case state.FieldPaused:
			q.Paused = copyOf(d.Paused)
		case state.FieldConcurrencyLimit:
			q.ConcurrencyLimit = copyOf(d.ConcurrencyLimit)
		case state.FieldPriority:
			q.Priority = copyOf(d.Priority)
		}
	}
}

func copyOf[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
