// Package redact masks known secret values in what prefect-apply prints:
// the Prefect credential it uses and the values its Secrets read (fromEnv,
// fromFile). It is the second line of defence: validate refuses the ways a
// file can put a secret in a plain field that it can see (a ${VAR} of a
// secret, a plain PREFECT_API_AUTH_STRING), and what slips past it, such as
// a secret pasted as literal text, is masked here before it is shown.
package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Masked stands in for a secret value in every rendering of a plan.
const Masked = "(sensitive value)"

// MinLength is the shortest value a Set looks for. Shorter values are
// ignored: an empty value would match everywhere, and a short one (a user
// name, "true", a port, a namespace such as "prefect") is far more likely
// to occur in unrelated text than to be a secret worth the name, so
// masking it would blank out ordinary words of a plan while hiding little.
// validate's refusal of ${VAR} for secret variables does not depend on it.
const MinLength = 8

// Set is a set of secret values. The zero Set masks nothing; a nil *Set
// is usable and masks nothing. It is safe for concurrent use.
type Set struct {
	mu       sync.Mutex
	values   map[string]bool
	replacer map[string]*strings.Replacer // by replacement, built on first use
}

// Add records secret values, each in the forms it may be shown in: as
// it is, without surrounding white space (a file's trailing newline), as
// JSON escapes it, and base64-encoded (Secret data, basic auth). Values
// shorter than MinLength are ignored.
func (s *Set) Add(values ...string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		for _, form := range forms(v) {
			if s.values == nil {
				s.values = map[string]bool{}
			}
			if !s.values[form] {
				s.values[form] = true
				s.replacer = nil
			}
		}
	}
}

// forms lists the ways v may be shown, or none when v itself (without
// surrounding white space) is shorter than MinLength: the longer forms of
// a short value (its base64) would be masked for nothing.
func forms(v string) []string {
	var out []string
	for _, x := range []string{v, strings.TrimSpace(v)} {
		if len(x) < MinLength || slices.Contains(out, x) {
			continue
		}
		out = append(out, x, base64.StdEncoding.EncodeToString([]byte(x)))
		// As encoding/json writes it inside a string, with and without
		// HTML escaping.
		for _, html := range []bool{true, false} {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(html)
			if enc.Encode(x) == nil {
				if q := strings.TrimSuffix(b.String(), "\n"); len(q) >= 2 && q[1:len(q)-1] != x {
					out = append(out, q[1:len(q)-1])
				}
			}
		}
	}
	return out
}

// Len is the number of values (in all their forms) the set looks for.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.values)
}

func (s *Set) replacerFor(with string) *strings.Replacer {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.values) == 0 {
		return nil
	}
	if r, ok := s.replacer[with]; ok {
		return r
	}
	vals := make([]string, 0, len(s.values))
	for v := range s.values {
		vals = append(vals, v)
	}
	// The longest first: strings.Replacer tries the old strings in
	// argument order at each position, so a value goes as a whole before
	// a shorter one inside it.
	sort.Slice(vals, func(i, j int) bool {
		if len(vals[i]) != len(vals[j]) {
			return len(vals[i]) > len(vals[j])
		}
		return vals[i] < vals[j]
	})
	pairs := make([]string, 0, 2*len(vals))
	for _, v := range vals {
		pairs = append(pairs, v, with)
	}
	r := strings.NewReplacer(pairs...)
	if s.replacer == nil {
		s.replacer = map[string]*strings.Replacer{}
	}
	s.replacer[with] = r
	return r
}

// String replaces every occurrence of a value of the set in text with
// with, and reports whether it replaced any.
func (s *Set) String(text, with string) (string, bool) {
	r := s.replacerFor(with)
	if r == nil || text == "" {
		return text, false
	}
	out := r.Replace(text)
	return out, out != text
}

// Value returns v, a JSON-like value (maps, slices, strings, numbers), with
// every value of the set replaced by with in its strings and map keys, and
// whether anything was. v itself is never modified: what changes is
// copied, what does not is shared.
func (s *Set) Value(v any, with string) (any, bool) {
	return s.Masker(with).Value(v)
}

// Masker masks many values with one set and one replacement. It remembers
// each string it has seen: the plan of a first sync repeats the same
// template strings for every pool, and most strings hold no secret, so a
// lookup replaces a scan and an allocation (BenchmarkRedactPlan1000, the
// plan of a first sync of 1000 pools: 183-419 ms and 24 MB scanning each
// string, 82-107 ms and 0.7 MB with the memory). Not for concurrent use.
type Masker struct {
	r    *strings.Replacer
	seen map[string]string
}

// Masker returns a masker for the set's values as they are now.
func (s *Set) Masker(with string) *Masker {
	return &Masker{r: s.replacerFor(with), seen: map[string]string{}}
}

// String masks one string.
func (m *Masker) String(x string) (string, bool) {
	if m.r == nil || x == "" {
		return x, false
	}
	out, ok := m.seen[x]
	if !ok {
		out = m.r.Replace(x)
		m.seen[x] = out
	}
	return out, out != x
}

// Value is Set.Value with this masker's set and replacement.
func (m *Masker) Value(v any) (any, bool) {
	if m.r == nil {
		return v, false
	}
	return m.value(v)
}

func (m *Masker) value(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		out, changed := m.String(x)
		if !changed {
			return v, false // no new interface value for the same string
		}
		return out, true
	case map[string]any:
		return replaceMap(m, x, m.value)
	case []any:
		var out []any
		for i, e := range x {
			ne, changed := m.value(e)
			if !changed {
				continue
			}
			if out == nil {
				out = append([]any(nil), x...)
			}
			out[i] = ne
		}
		if out == nil {
			return x, false
		}
		return out, true
	case map[string]string:
		// Labels and annotations, as some state types hold them.
		return replaceMap(m, x, m.String)
	case nil, bool, float64, float32, int, int64, int32, uint, uint64, uint32:
		return v, false
	}
	// Any other type is masked in its JSON form.
	raw, err := json.Marshal(v)
	if err != nil {
		return v, false
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return v, false
	}
	if out, changed := m.value(generic); changed {
		return out, true
	}
	return v, false
}

// replaceMap masks a map's keys with m and its values with f, copying the
// map only when something changes.
func replaceMap[V any](m *Masker, x map[string]V, f func(V) (V, bool)) (any, bool) {
	var out map[string]V
	for k, e := range x {
		nk, _ := m.String(k)
		ne, changed := f(e)
		if !changed && nk == k {
			continue
		}
		if out == nil {
			out = make(map[string]V, len(x))
			for k2, e2 := range x {
				out[k2] = e2
			}
		}
		if nk != k {
			delete(out, k)
		}
		out[nk] = ne
	}
	if out == nil {
		return x, false
	}
	return out, true
}
