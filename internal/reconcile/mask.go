package reconcile

import (
	"encoding/json"

	"github.com/prefect-apply/prefect-apply/internal/jobtemplate"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/redact"
)

// maskPlan masks the known secret values in a plan's field values and
// paths, in its reasons and problems and in the jobs of new pools, in
// place, with plan.Masked.
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
		c.Job = maskJob(c.Job, m)
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

// maskJob is j with the known secret values in its strings masked: a
// literal env value under a name that does not look secret, a variable's
// default.
func maskJob(j *jobtemplate.Job, m *redact.Masker) *jobtemplate.Job {
	if j == nil {
		return nil
	}
	raw, err := json.Marshal(j)
	if err != nil {
		return j
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return j
	}
	masked, changed := m.Value(generic)
	if !changed {
		return j
	}
	raw, err = json.Marshal(masked)
	out := &jobtemplate.Job{}
	if err != nil || json.Unmarshal(raw, out) != nil {
		// What cannot be masked is not shown.
		return nil
	}
	return out
}
