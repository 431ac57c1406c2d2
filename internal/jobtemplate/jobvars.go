package jobtemplate

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/prefect-apply/prefect-apply/internal/config"
)

// CheckJobVariables checks a deployment's job variables against a base job
// template's variables, as a worker would meet them: a variable the
// template does not declare (the worker drops it without a word), a value
// its schema refuses (type, enum, minimum, maximum, pattern), a required
// variable with no default that the deployment does not set. Each problem
// is one sentence naming the variable, in order.
func CheckJobVariables(template map[string]any, vars map[string]any) []string {
	variables, _ := template["variables"].(map[string]any)
	props, _ := variables["properties"].(map[string]any)
	var out []string
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		if _, declared := props[name]; !declared {
			out = append(out, fmt.Sprintf("variable %q: the template no longer declares it, so workers drop it", name))
		}
	}
	required, _ := variables["required"].([]any)
	for _, r := range required {
		name, _ := r.(string)
		prop, _ := props[name].(map[string]any)
		if _, set := vars[name]; set || name == "" {
			continue
		}
		if def, ok := prop["default"]; !ok || def == nil {
			out = append(out, fmt.Sprintf("variable %q: required, with no default, and the deployment does not set it", name))
		}
	}
	return append(out, valueProblems(variables, vars)...)
}

// valueProblems checks each value the deployment sets and the template
// declares against the variable's schema. The whole variables document is
// the resource: a variable may $ref its definitions.
func valueProblems(variables map[string]any, vars map[string]any) []string {
	var out []string
	props, _ := variables["properties"].(map[string]any)
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	const url = "urn:prefect-apply:variables"
	if err := comp.AddResource(url, config.NormalizeJSON(variables)); err != nil {
		return nil // the template's own checks report a broken schema
	}
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		if _, declared := props[name]; !declared {
			continue
		}
		sch, err := comp.Compile(url + "#/properties/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(name))
		if err != nil {
			continue
		}
		if err := sch.Validate(config.NormalizeJSON(vars[name])); err != nil {
			out = append(out, fmt.Sprintf("variable %q: the deployment's value %s", name, schemaFailure(err)))
		}
	}
	return out
}

// schemaFailure says why a value fails a schema without repeating the
// value: a deployment's job variables may hold a secret (an env entry).
func schemaFailure(err error) string {
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return "does not match the template's schema"
	}
	for len(ve.Causes) > 0 {
		if msg := anyOfTypes(ve); msg != "" {
			return msg
		}
		ve = ve.Causes[0]
	}
	if t, ok := ve.ErrorKind.(*kind.Type); ok {
		return fmt.Sprintf("is %s, but the template wants %s", t.Got, strings.Join(t.Want, " or "))
	}
	return fmt.Sprintf("fails the template's %q", strings.Join(ve.ErrorKind.KeywordPath(), "/"))
}

// anyOfTypes says which types an "anyOf" of types wants ("anyOf: string,
// null" fails with one type error a branch); "" for another failure.
func anyOfTypes(ve *jsonschema.ValidationError) string {
	if _, ok := ve.ErrorKind.(*kind.AnyOf); !ok {
		return ""
	}
	var got string
	var want []string
	for _, c := range ve.Causes {
		t, ok := c.ErrorKind.(*kind.Type)
		if !ok {
			return ""
		}
		got, want = t.Got, append(want, t.Want...)
	}
	if len(want) == 0 {
		return ""
	}
	return fmt.Sprintf("is %s, but the template wants %s", got, strings.Join(want, " or "))
}
