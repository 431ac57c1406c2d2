package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/desired"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// Check is what Verify found.
type Check struct {
	// Problems are where the file does not reproduce the live state as
	// export means it to: a fault of export.
	Problems []string
	// Changes are what export chose to change: the pools whose secret
	// values moved to a Secret, which the first sync writes into their
	// templates as references.
	Changes []string
	// Refused are the validation problems that export's choices leave in
	// the file (a Prefect credential in a template that cannot read a
	// Secret): the user edits the file, as the warnings say.
	Refused []string
}

// Verify reads a written export back as prefect-apply reads any file and
// checks the two promises it makes: the file validates, and its Prefect
// half matches the live state it came from (the plan against live, with
// every object taken over, changes nothing), except for what export
// chose: the secret values moved out of the templates (e.Moved), and the
// pools of e.Inexact, which the export already warned about. The ${VAR}
// references written in place of values are read as the live values.
func Verify(data []byte, name string, live *state.State, e *Export) (*Check, error) {
	lookup := func(env string) (string, bool) { v, ok := e.values[env]; return v, ok }
	doc, probs := config.Parse(bytes.NewReader(data), name, config.Options{LookupEnv: lookup})
	if len(probs) == 0 {
		_, probs = doc.Validate()
	}
	check := &Check{}
	if len(probs) > 0 {
		for _, p := range probs {
			if e.refPaths[strings.Join(p.Path, ".")] {
				check.Refused = append(check.Refused, p.Error())
			} else {
				check.Problems = append(check.Problems, p.Error())
			}
		}
		return check, nil
	}
	f, _ := doc.Validate()
	want, err := desired.Build(f, desired.Options{SkipKubernetes: true, SkipSecretValues: true})
	if err != nil {
		return nil, err
	}
	// Only what the file declares (the other pools were not exported),
	// with the templates export means.
	scope := state.New()
	for name, p := range live.Pools {
		if _, ok := want.Pools[name]; ok {
			if t, moved := e.intended[name]; moved {
				cp := *p
				cp.BaseJobTemplate = t
				p = &cp
			}
			scope.AddPool(p)
		}
	}
	for k, q := range live.Queues {
		if _, ok := want.Pools[q.Pool]; ok {
			scope.Queues[k] = q
		}
	}
	p, err := plan.Compute(want, scope, plan.Options{Set: f.Set, Adopt: true, Owned: func(state.Key) bool { return true }})
	if err != nil {
		return nil, err
	}
	for _, c := range p.Changes {
		if c.Action == plan.NoOp || c.Key.Kind == state.KindWorkPool && e.Inexact[c.Key.Name] {
			continue
		}
		var fields []string
		for _, fc := range c.Fields {
			fields = append(fields, fc.Path)
		}
		check.Problems = append(check.Problems, fmt.Sprintf("%s would %s on sync (%s)", c.Key, c.Action, strings.Join(fields, ", ")))
	}
	check.Changes = movedChanges(e.Moved)
	return check, nil
}

// movedChanges names, per pool, the values moved to a Secret.
func movedChanges(moved []Moved) []string {
	var out []string
	byPool := map[string][]string{}
	secret := map[string]string{}
	var pools []string
	for _, m := range moved {
		if m.Secret == "" {
			continue
		}
		if _, seen := byPool[m.Pool]; !seen {
			pools = append(pools, m.Pool)
		}
		if !contains(byPool[m.Pool], m.Name) {
			byPool[m.Pool] = append(byPool[m.Pool], m.Name)
		}
		secret[m.Pool] = m.Secret
	}
	for _, pool := range pools {
		out = append(out, fmt.Sprintf("work pool %q: the first sync replaces the plain values of %s in its template with references to Secret %q",
			pool, strings.Join(byPool[pool], ", "), secret[pool]))
	}
	return out
}

// normalize returns a deep copy of v in encoding/json's decoded form.
func normalize(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(raw, &out)
}
