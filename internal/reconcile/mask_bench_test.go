package reconcile

import (
	"testing"

	"github.com/prefect-apply/prefect-apply/bench/benchdata"
	"github.com/prefect-apply/prefect-apply/internal/redact"
)

// Masking the plan of a first sync of 1000 pools, the largest a file that
// size makes, with the secrets a run typically knows (the auth string and
// two Secret values), none of which occurs in it: the cost a diff of a
// new file pays once secrets are known. (Nothing is masked, so the one
// plan serves every round.)
func BenchmarkMaskPlan1000(b *testing.B) {
	var s redact.Set
	s.Add("admin:bench-password-1", "registry-token-0123456789", "another secret value")
	p := benchdata.FromEmpty(1000)
	b.ReportAllocs()
	for b.Loop() {
		maskPlan(p, &s)
	}
}
