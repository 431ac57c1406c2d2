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

// Verify reads a written export back as prefect-apply reads any file and
// checks the two promises it makes: the file validates, and its Prefect
// half matches the live state it came from (the plan against live, with
// every object taken over, changes nothing). It returns the validation
// problems, or the objects that would still change, except the pools
// named in inexact, which the export already warned about.
func Verify(data []byte, name string, live *state.State, inexact map[string]bool) ([]string, error) {
	doc, probs := config.Parse(bytes.NewReader(data), name, config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if len(probs) == 0 {
		_, probs = doc.Validate()
	}
	if len(probs) > 0 {
		out := make([]string, len(probs))
		for i, p := range probs {
			out[i] = p.Error()
		}
		return out, nil
	}
	f, _ := doc.Validate()
	want, err := desired.Build(f, desired.Options{SkipKubernetes: true, SkipSecretValues: true})
	if err != nil {
		return nil, err
	}
	// Only what the file declares: the other pools were not exported.
	scope := state.New()
	for name, p := range live.Pools {
		if _, ok := want.Pools[name]; ok {
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
	var out []string
	for _, c := range p.Changes {
		if c.Action == plan.NoOp || c.Key.Kind == state.KindWorkPool && inexact[c.Key.Name] {
			continue
		}
		var fields []string
		for _, fc := range c.Fields {
			fields = append(fields, fc.Path)
		}
		out = append(out, fmt.Sprintf("%s would %s on sync (%s)", c.Key, c.Action, strings.Join(fields, ", ")))
	}
	return out, nil
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
