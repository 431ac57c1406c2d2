package plan_test

import (
	"testing"

	"github.com/prefect-apply/prefect-apply/bench/benchdata"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// BenchmarkComputeInSync1000 plans 1000 pools, 3000 queues and their
// Kubernetes objects against a live state equal to them: the diff after a
// sync, every change a no-op.
func BenchmarkComputeInSync1000(b *testing.B) {
	want, live, opts := benchdata.InSync(1000)
	p, err := plan.Compute(want, live, opts)
	if err != nil {
		b.Fatal(err)
	}
	if p.HasChanges() {
		b.Fatalf("live state is not in sync: %+v", p.Summary())
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := plan.Compute(want, live, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkComputeFromEmpty1000 plans the same file against empty servers:
// everything is created.
func BenchmarkComputeFromEmpty1000(b *testing.B) {
	f := benchdata.File(1000)
	want := benchdata.Desired(f)
	empty := state.New()
	opts := plan.Options{Set: f.Set}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := plan.Compute(want, empty, opts); err != nil {
			b.Fatal(err)
		}
	}
}
