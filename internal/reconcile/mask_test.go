package reconcile

import (
	"fmt"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/jobtemplate"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/redact"
)

func TestMaskPlan(t *testing.T) {
	var s redact.Set
	s.Add("secret-value-1", "short")
	p := &plan.Plan{Changes: []plan.Change{{
		Reason:  "held by secret-value-1",
		Problem: "refused: data[x]: Invalid value: secret-value-1",
		Fields: []plan.FieldChange{
			{Path: "description", Old: "was secret-value-1", New: "now", HasOld: true, HasNew: true},
			{Path: "baseJobTemplate", New: map[string]any{"env": []any{"secret-value-1", 3.0, "short"}}, HasNew: true},
			{Path: "data.token", Old: plan.Masked, New: plan.Masked, HasOld: true, HasNew: true, Sensitive: true},
		},
	}}}
	orig := p.Changes[0].Fields[1].New
	maskPlan(p, &s)
	c := p.Changes[0]
	if c.Reason != "held by (sensitive value)" || c.Problem != "refused: data[x]: Invalid value: (sensitive value)" || c.Fields[0].Old != "was (sensitive value)" || c.Fields[0].New != "now" {
		t.Errorf("redacted change: %+v", c)
	}
	if got := fmt.Sprint(c.Fields[1].New); got != "map[env:[(sensitive value) 3 short]]" {
		t.Errorf("redacted value: %s", got)
	}
	if got := fmt.Sprint(orig); got != "map[env:[secret-value-1 3 short]]" {
		t.Errorf("the original value changed: %s", got)
	}
	if c.Fields[2].New != plan.Masked {
		t.Errorf("sensitive field: %+v", c.Fields[2])
	}
}

// A known secret pasted as the value of an env name that does not look
// secret is masked in the new pool's job too.
func TestMaskPlanMasksTheJob(t *testing.T) {
	var s redact.Set
	s.Add("secret-value-1")
	job := &jobtemplate.Job{Image: "acme:1", Env: []jobtemplate.JobEnv{{Name: "DSN", From: "value", Value: "postgres://u:secret-value-1@db"}}}
	p := &plan.Plan{Changes: []plan.Change{{Action: plan.Create, Job: job}}}
	maskPlan(p, &s)
	got := p.Changes[0].Job
	if got.Image != "acme:1" || got.Env[0].Value != "postgres://u:(sensitive value)@db" {
		t.Errorf("masked job: %+v", got)
	}
	if job.Env[0].Value != "postgres://u:secret-value-1@db" {
		t.Errorf("the original job changed: %+v", job)
	}
}
