package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Validate checks the document against the schema and the semantic rules,
// and returns the decoded file when there is no problem. Every problem is
// reported, sorted by position.
func (d *Document) Validate() (*File, Problems) {
	probs := append(Problems{}, d.parseProblems...)
	pre := append(d.secretManifests(), d.prefect2Templates()...)
	// A value a parse problem left out or only partly interpolated would
	// only be reported again.
	var later Problems
	keep := func(ps Problems) {
		for _, p := range ps {
			if !under(p.Path, d.replaced) {
				later = append(later, p)
			}
		}
	}
	keep(pre)
	for _, p := range d.schemaProblems() {
		if !coveredBy(p.Path, pre) {
			keep(Problems{p})
		}
	}
	if len(later) == 0 {
		keep(d.quantities())
	}
	var f *File
	if len(later) == 0 {
		var err error
		if f, err = decode(d.Value); err != nil {
			// A left-out value may be what does not decode; its parse
			// problem says so already.
			if len(d.replaced) == 0 {
				later = append(later, d.decodeProblems(err)...)
			}
		} else {
			keep(d.check(f))
		}
	}
	probs = append(probs, later...)
	if len(probs) == 0 {
		if f.Set == "" {
			f.Set = DefaultSet(d.Name)
		}
		return f, nil
	}
	probs = dedupe(probs)
	probs.Sort()
	return nil, probs
}

// under reports whether path lies under one of prefixes.
func under(path Path, prefixes []Path) bool {
	for _, p := range prefixes {
		if len(path) >= len(p) && slices.Equal(path[:len(p)], p) {
			return true
		}
	}
	return false
}

// decodeProblems positions an error decoding the schema-valid value into a
// File: a whole number too large for its field.
func (d *Document) decodeProblems(err error) Problems {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		var out Problems
		var walk func(v any, p Path)
		walk = func(v any, p Path) {
			switch x := v.(type) {
			case map[string]any:
				for k, e := range x {
					walk(e, p.Child(k))
				}
			case []any:
				for i, e := range x {
					walk(e, p.Child(strconv.Itoa(i)))
				}
			case float64:
				if fieldPath(p) == te.Field && (x >= math.MaxInt64 || x < math.MinInt64) {
					text := strconv.FormatFloat(x, 'f', -1, 64)
					if _, n, _ := d.lookup(p); n.Kind == yaml.ScalarNode {
						text = n.Value
					}
					out = append(out, d.problem(p, fmt.Sprintf("%s is too large; the largest allowed is %d", text, math.MaxInt64), ""))
				}
			}
		}
		walk(d.Value, nil)
		if len(out) > 0 {
			return out
		}
	}
	return Problems{{File: d.Name, Pos: Pos{1, 1}, Message: err.Error()}}
}

// fieldPath renders a path as encoding/json names fields: keys joined by
// dots, list indexes left out.
func fieldPath(p Path) string {
	var keys []string
	for _, tok := range p {
		if _, err := strconv.Atoi(tok); err != nil {
			keys = append(keys, tok)
		}
	}
	return strings.Join(keys, ".")
}

// coveredBy reports whether path lies under the path of one of probs.
func coveredBy(path Path, probs Problems) bool {
	for _, p := range probs {
		if len(path) >= len(p.Path) && slices.Equal(path[:len(p.Path)], p.Path) {
			return true
		}
	}
	return false
}

func decode(v any) (*File, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	return &f, nil
}

// DefaultSet derives a set name from a file name: pools.yaml → pools.
func DefaultSet(name string) string {
	return LabelName(strings.TrimSuffix(filepath.Base(name), filepath.Ext(name)), 63, "default")
}

// LabelName turns any text into a lowercase DNS name: letters and digits
// kept, every other run of characters one '-', no '-' at either end, at
// most max bytes; fallback when nothing is left.
func LabelName(text string, max int, fallback string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > max {
		s = strings.Trim(s[:max], "-")
	}
	if s == "" {
		s = fallback
	}
	return s
}

// secretManifests rejects native Secret manifests before the schema sees them.
func (d *Document) secretManifests() Problems {
	root, _ := d.Value.(map[string]any)
	kube, _ := root["kubernetes"].(map[string]any)
	res, _ := kube["resources"].([]any)
	var out Problems
	for i, r := range res {
		m, _ := r.(map[string]any)
		if m["kind"] != "Secret" {
			continue
		}
		p := Path{"kubernetes", "resources", fmt.Sprint(i)}
		name := ""
		if md, ok := m["metadata"].(map[string]any); ok {
			name, _ = md["name"].(string)
		}
		out = append(out, Problem{File: d.Name, Pos: d.Pos(p.Child("kind")), Path: p,
			Message: "a Secret cannot be declared as a manifest: its values would sit in this file",
			Hint: fmt.Sprintf("declare it under kubernetes.secrets, with each value read at sync time:\n"+
				"  secrets:\n    - name: %s\n      keys:\n        KEY: {fromEnv: ENV_VAR}   # or {fromFile: path}", orDefault(name, "my-secret"))})
	}
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// quantities parses every resource quantity (resources.requests and
// resources.limits) the way the API server will.
func (d *Document) quantities() Problems {
	var out Problems
	var walk func(v any, p Path)
	walk = func(v any, p Path) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(e, p.Child(k))
			}
		case []any:
			for i, e := range x {
				walk(e, p.Child(strconv.Itoa(i)))
			}
		case string:
			n := len(p)
			if n >= 3 && p[n-3] == "resources" && (p[n-2] == "requests" || p[n-2] == "limits") && !strings.Contains(x, "{{") {
				if _, err := resource.ParseQuantity(x); err != nil {
					msg := fmt.Sprintf("%q is not a quantity", x)
					if !strings.Contains(err.Error(), "regular expression") {
						msg += ": " + err.Error()
					}
					out = append(out, d.problem(p, msg, "write quantities like 500m, 2, 1Gi or 512Mi"))
				}
			}
		}
	}
	walk(d.Value, nil)
	return out
}

var setRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ValidSet reports whether a set name is usable: the pattern the schema
// gives the file's `set`, at most 63 characters.
func ValidSet(s string) bool { return len(s) <= 63 && setRE.MatchString(s) }
