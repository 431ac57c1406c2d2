package jobtemplate_test

import (
	"testing"

	"github.com/prefect-apply/prefect-apply/bench/benchdata"
	"github.com/prefect-apply/prefect-apply/internal/jobtemplate"
)

// BenchmarkBuild1000 merges the overrides of 1000 generated pools onto the
// Kubernetes worker's default template, as desired.Build does for each pool.
func BenchmarkBuild1000(b *testing.B) {
	f := benchdata.File(1000)
	b.ReportAllocs()
	for b.Loop() {
		for i := range f.Pools {
			p := &f.Pools[i]
			if _, err := jobtemplate.Build(p, f.JobNamespace(p)); err != nil {
				b.Fatal(err)
			}
		}
	}
}
