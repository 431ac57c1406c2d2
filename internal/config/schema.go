package config

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/prefect-apply/prefect-apply/schema"
)

const schemaLoc = "pools.schema.json"

var compiled struct {
	once   sync.Once
	schema *jsonschema.Schema
	raw    any
	err    error
}

func compiledSchema() (*jsonschema.Schema, any, error) {
	compiled.once.Do(func() {
		raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.JSON))
		if err != nil {
			compiled.err = fmt.Errorf("embedded schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource(schemaLoc, raw); err != nil {
			compiled.err = fmt.Errorf("embedded schema: %w", err)
			return
		}
		compiled.schema, compiled.err = c.Compile(schemaLoc)
		compiled.raw = raw
	})
	return compiled.schema, compiled.raw, compiled.err
}

var printer = message.NewPrinter(language.English)

// schemaProblems validates the document's value against the schema.
func (d *Document) schemaProblems() Problems {
	sch, raw, err := compiledSchema()
	if err != nil {
		return Problems{{File: d.Name, Pos: Pos{1, 1}, Message: err.Error()}}
	}
	verr, ok := sch.Validate(d.Value).(*jsonschema.ValidationError)
	if !ok {
		return nil
	}
	var out Problems
	d.collect(verr, raw, &out)
	return dedupe(out)
}

func (d *Document) collect(e *jsonschema.ValidationError, raw any, out *Problems) {
	path := Path(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		if msg, ok := alternatives(e); ok {
			*out = append(*out, d.problem(path, msg, ""))
			return
		}
	case *kind.AdditionalProperties:
		allowed := allowedProperties(raw, e.SchemaURL)
		for _, p := range k.Properties {
			prob := d.problem(path.Child(p), fmt.Sprintf("unknown field %q", p), suggest(p, allowed))
			prob.Pos = d.KeyPos(path.Child(p))
			*out = append(*out, prob)
		}
		return
	case *kind.Required:
		for _, m := range k.Missing {
			prob := d.problem(path, fmt.Sprintf("missing required field %q", m), "")
			prob.Pos = d.KeyPos(path)
			*out = append(*out, prob)
		}
		return
	case *kind.Type:
		hint := ""
		if k.Got == "string" && d.interpolated[path.Pointer()] {
			hint = "a ${VAR} always gives a string, which this field does not take: write the value in the file"
		}
		*out = append(*out, d.problem(path, fmt.Sprintf("expected %s, got %s", strings.Join(k.Want, " or "), k.Got), hint))
		return
	case *kind.Minimum:
		*out = append(*out, d.problem(path, fmt.Sprintf("must be at least %s, got %s", k.Want.RatString(), k.Got.RatString()), ""))
		return
	case *kind.Enum:
		var want []string
		for _, w := range k.Want {
			want = append(want, fmt.Sprint(w))
		}
		hint := ""
		if got, ok := k.Got.(string); ok {
			if h := suggest(got, want); strings.HasPrefix(h, "did you mean") {
				hint = h
			}
		}
		*out = append(*out, d.problem(path, fmt.Sprintf("%v is not one of %s", display(k.Got), strings.Join(want, ", ")), hint))
		return
	case *kind.MinLength:
		msg := fmt.Sprintf("must be at least %d characters long, got %d", k.Want, k.Got)
		if k.Got == 0 && k.Want == 1 {
			msg = "must not be empty"
		}
		*out = append(*out, d.problem(path, msg, ""))
		return
	case *kind.MaxLength:
		*out = append(*out, d.problem(path, fmt.Sprintf("must be at most %d characters long, got %d", k.Want, k.Got), ""))
		return
	case *kind.Pattern:
		*out = append(*out, d.problem(path, fmt.Sprintf("%q does not match the pattern %s", k.Got, k.Want), patternHint(k.Want)))
		return
	case *kind.Format:
		*out = append(*out, d.problem(path, fmt.Sprintf("%s is not a valid %s: %v", display(k.Got), k.Want, k.Err), ""))
		return
	case *kind.Const:
		*out = append(*out, d.problem(path, fmt.Sprintf("expected %v, got %v", display(k.Want), display(k.Got)), ""))
		return
	}
	if len(e.Causes) == 0 {
		*out = append(*out, d.problem(path, e.ErrorKind.LocalizedString(printer), ""))
		return
	}
	for _, c := range e.Causes {
		d.collect(c, raw, out)
	}
}

// alternatives renders an anyOf/oneOf failure whose branches all failed at
// the same value, such as a quantity that is neither a string nor a number.
func alternatives(e *jsonschema.ValidationError) (string, bool) {
	var msgs []string
	got := ""
	for _, c := range e.Causes {
		if len(c.InstanceLocation) != len(e.InstanceLocation) {
			return "", false
		}
		leaf := c
		for len(leaf.Causes) == 1 {
			leaf = leaf.Causes[0]
		}
		if t, ok := leaf.ErrorKind.(*kind.Type); ok {
			msgs = append(msgs, strings.Join(t.Want, " or "))
			got = t.Got
			continue
		}
		if p, ok := leaf.ErrorKind.(*kind.Pattern); ok {
			if strings.Contains(p.Want, "[KMGTPE]i") {
				return fmt.Sprintf("%q is not a quantity; write quantities like 500m, 2, 1Gi or 512Mi", p.Got), true
			}
			return fmt.Sprintf("%q does not match the pattern %s", p.Got, p.Want), true
		}
		msgs = append(msgs, leaf.ErrorKind.LocalizedString(printer))
	}
	if got != "" && len(msgs) > 0 {
		return "expected " + strings.Join(msgs, " or ") + ", got " + got, true
	}
	return "expected " + strings.Join(msgs, " or "), true
}

// patternHint says in words what the schema's patterns mean.
func patternHint(pattern string) string {
	switch pattern {
	case "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$":
		return "use lowercase letters, digits and '-', starting and ending with a letter or digit"
	case "^[A-Za-z_][A-Za-z0-9_]*$":
		return "an environment variable name: letters, digits and '_', not starting with a digit"
	}
	return ""
}

func (d *Document) problem(path Path, msg, hint string) Problem {
	return Problem{File: d.Name, Pos: d.Pos(path), Path: path, Message: msg, Hint: hint}
}

// allowedProperties reads the property names of the schema at url.
func allowedProperties(raw any, url string) []string {
	_, frag, _ := strings.Cut(url, "#")
	node := raw
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		m, ok := node.(map[string]any)
		if !ok {
			return nil
		}
		node = m[strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)]
	}
	m, _ := node.(map[string]any)
	props, _ := m["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// suggest names the allowed field closest to a typo, or lists them all.
func suggest(got string, allowed []string) string {
	best, bestDist := "", 1<<30
	for _, a := range allowed {
		if d := levenshtein(strings.ToLower(got), strings.ToLower(a)); d < bestDist {
			best, bestDist = a, d
		}
	}
	if best != "" && bestDist <= max(2, len(got)/3) {
		return fmt.Sprintf("did you mean %q?", best)
	}
	// A shortened name (prio, concurency): compare with the start of each.
	best, bestDist = "", 1<<30
	for _, a := range allowed {
		if len(got) >= 4 && len(a) > len(got) {
			if d := levenshtein(strings.ToLower(got), strings.ToLower(a[:len(got)])); d < bestDist {
				best, bestDist = a, d
			}
		}
	}
	if best != "" && bestDist <= len(got)/4 {
		return fmt.Sprintf("did you mean %q?", best)
	}
	if len(allowed) > 0 {
		return "allowed here: " + strings.Join(allowed, ", ")
	}
	return ""
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func dedupe(ps Problems) Problems {
	seen := map[string]bool{}
	out := ps[:0]
	for _, p := range ps {
		k := fmt.Sprintf("%d:%d:%s:%s", p.Pos.Line, p.Pos.Col, p.Path, p.Message)
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}

func display(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}
