// Package benchdata builds the inputs of the Go benchmarks from a generated
// pools.yaml (bench/poolsgen): the file's bytes, the validated file, the
// desired State, a live State equal to it as the servers return it, and
// plans. Every helper panics on error: the inputs are generated, so an
// error is a bug in the generator or the loader.
package benchdata

import (
	"bytes"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/prefect-apply/prefect-apply/bench/poolsgen"
	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/desired"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// SecretEnv is the variable the generated Secrets read; Lookup sets it.
const SecretEnv = "BENCH_PREFECT_AUTH_STRING"

// Lookup is the environment the benchmarks load files with.
func Lookup(name string) (string, bool) {
	if name == SecretEnv {
		return "bench:not-a-password", true
	}
	return "", false
}

// Bytes is the generated file for n pools.
func Bytes(n int) []byte {
	return poolsgen.Bytes(poolsgen.Options{Pools: n, SecretEnv: SecretEnv})
}

// Load parses and validates a file's bytes.
func Load(data []byte) (*config.File, error) {
	doc, probs := config.Parse(bytes.NewReader(data), "pools.yaml", config.Options{LookupEnv: Lookup})
	if len(probs) > 0 {
		return nil, probs
	}
	f, probs := doc.Validate()
	if len(probs) > 0 {
		return nil, probs
	}
	return f, nil
}

// File is the validated file for n pools.
func File(n int) *config.File {
	f, err := Load(Bytes(n))
	if err != nil {
		panic(fmt.Sprintf("benchdata: generated file for %d pools: %v", n, err))
	}
	return f
}

// Desired is the desired State of a file, Kubernetes objects included.
func Desired(f *config.File) *state.State {
	s, err := desired.Build(f, desired.Options{LookupEnv: Lookup})
	if err != nil {
		panic(fmt.Sprintf("benchdata: desired state: %v", err))
	}
	return s
}

// Live returns what reading the servers yields once the file is synced:
// pools and queues as JSON came back (numbers as float64, every field
// set, ids and timestamps), and the Kubernetes objects as stored. It also
// returns the planner options of such a diff: everything is owned, and the
// dry run predicts the stored objects.
func Live(want *state.State, set string) (*state.State, plan.Options) {
	live := state.New()
	i := 0
	for name, d := range want.Pools {
		i++
		var tmpl map[string]any
		roundTrip(d.BaseJobTemplate, &tmpl)
		p := &state.Pool{Name: name, Type: d.Type, Description: d.Description, Paused: orFalse(d.Paused),
			ConcurrencyLimit: d.ConcurrencyLimit, BaseJobTemplate: tmpl,
			ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Updated: "2024-06-01T12:00:00.000000Z", Status: "NOT_READY"}
		live.AddPool(p)
	}
	for _, d := range want.Queues {
		i++
		q := *d
		q.Paused = orFalse(d.Paused)
		q.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		q.Updated = "2024-06-01T12:00:00.000000Z"
		live.AddQueue(&q)
	}
	predicted := map[state.Key]*unstructured.Unstructured{}
	for k, d := range want.Objects {
		o := d.DeepCopy()
		o.SetResourceVersion(fmt.Sprint(1000 + i))
		o.SetUID(types.UID(fmt.Sprintf("00000000-0000-4000-9000-%012d", i)))
		i++
		if k.Kind == "Secret" && k.Group == "" {
			data := map[string]any{}
			for name := range want.SecretData[k] {
				data[name] = "Ym9ndXM="
			}
			o.Object["data"] = data
		}
		live.Objects[k] = o
		predicted[k] = o.DeepCopy()
	}
	return live, plan.Options{Set: set, Owned: func(state.Key) bool { return true }, Predicted: predicted}
}

// InSync is the plan of a diff right after a sync: every change a no-op.
func InSync(n int) (*state.State, *state.State, plan.Options) {
	f := File(n)
	want := Desired(f)
	live, opts := Live(want, f.Set)
	return want, live, opts
}

// FromEmpty is the plan of the first sync: everything created.
func FromEmpty(n int) *plan.Plan {
	f := File(n)
	p, err := plan.Compute(Desired(f), state.New(), plan.Options{Set: f.Set})
	if err != nil {
		panic(fmt.Sprintf("benchdata: plan: %v", err))
	}
	return p
}

func roundTrip(in, out any) {
	raw, err := json.Marshal(in)
	if err != nil {
		panic(err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		panic(err)
	}
}

func orFalse(b *bool) *bool {
	v := b != nil && *b
	return &v
}
