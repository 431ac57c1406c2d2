package reconcile

import (
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/redact"
)

// maskPlan masks the known secret values in a plan's field values and
// paths and in its reasons and problems, in place, with plan.Masked.
// Secret data is masked already; what the applier sends (Pool, Queue,
// Object, Updates) is left as it is. Plans are masked once, as computed: the
// text, JSON and Markdown renderings, the saved plan and the comparison
// sync --plan makes all show the masked plan.
func maskPlan(p *plan.Plan, s *redact.Set) {
	if s == nil || s.Len() == 0 {
		return
	}
	m := s.Masker(plan.Masked)
	for i := range p.Changes {
		c := &p.Changes[i]
		c.Reason, _ = m.String(c.Reason)
		c.Problem, _ = m.String(c.Problem)
		for j := range c.Warnings {
			c.Warnings[j], _ = m.String(c.Warnings[j])
		}
		for j := range c.Fields {
			f := &c.Fields[j]
			f.Path, _ = m.String(f.Path)
			if f.Sensitive {
				continue
			}
			f.Old, _ = m.Value(f.Old)
			f.New, _ = m.Value(f.New)
		}
	}
}
