package plan

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// normalize turns any JSON-compatible value into the form encoding/json
// decodes to (float64 numbers, map[string]any, []any), so that values read
// from YAML, built in Go and read from a server compare equal.
func normalize(v any) any {
	if v == nil {
		return nil
	}
	// Encoding and decoding a 10 kB job template per pool, on both sides,
	// was most of a diff's planning time; the types templates are made of
	// convert directly, to the same result.
	if out, ok := jsonForm(v); ok {
		return out
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		return v
	}
	return out
}

// jsonForm returns a copy of v in the form encoding/json would decode
// json.Marshal(v) to, for the types it knows, and false for any other type
// or for a value the encoding would change or refuse (invalid UTF-8, NaN or
// infinity): normalize then takes the long way.
func jsonForm(v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case bool:
		return x, true
	case string:
		return x, utf8.ValidString(x)
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case map[string]any:
		if x == nil {
			return nil, true
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, ok := jsonForm(e)
			if !ok || !utf8.ValidString(k) {
				return nil, false
			}
			out[k] = c
		}
		return out, true
	case []any:
		if x == nil {
			return nil, true
		}
		out := make([]any, len(x))
		for i, e := range x {
			c, ok := jsonForm(e)
			if !ok {
				return nil, false
			}
			out[i] = c
		}
		return out, true
	case map[string]string:
		if x == nil {
			return nil, true
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if !utf8.ValidString(k) || !utf8.ValidString(e) {
				return nil, false
			}
			out[k] = e
		}
		return out, true
	}
	return nil, false
}

// equal is reflect.DeepEqual for the values normalize returns, without
// the allocations DeepEqual makes to track the maps it has visited (which
// were a third of planning a diff's memory); other types go to DeepEqual.
func equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || (x == nil) != (y == nil) || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || (x == nil) != (y == nil) || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// diffValues appends the differences between old and new under path.
// Maps are compared key by key; lists of equal length item by item, and
// so are lists of objects of any length, the items one has past the
// other's length as added or removed (a list of rules that grows from one
// to three reads as what changed in the first and the two added, where the
// whole list would be summarised as "[...3 items]"); other lists and
// scalars as a whole.
func diffValues(path string, old, new any, hasOld, hasNew bool, out *[]FieldChange) {
	if hasOld && hasNew && equal(old, new) {
		return
	}
	om, oIsMap := old.(map[string]any)
	nm, nIsMap := new.(map[string]any)
	if hasOld && hasNew && oIsMap && nIsMap {
		keys := map[string]bool{}
		for k := range om {
			keys[k] = true
		}
		for k := range nm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			ov, ho := om[k]
			nv, hn := nm[k]
			diffValues(join(path, k), ov, nv, ho, hn, out)
		}
		return
	}
	ol, oIsList := old.([]any)
	nl, nIsList := new.([]any)
	if hasOld && hasNew && oIsList && nIsList && (len(ol) == len(nl) || len(ol) > 0 && len(nl) > 0 && listOfObjects(ol) && listOfObjects(nl)) {
		for i := 0; i < max(len(ol), len(nl)); i++ {
			var ov, nv any
			if i < len(ol) {
				ov = ol[i]
			}
			if i < len(nl) {
				nv = nl[i]
			}
			diffValues(path+"["+strconv.Itoa(i)+"]", ov, nv, i < len(ol), i < len(nl), out)
		}
		return
	}
	*out = append(*out, FieldChange{Path: path, Old: old, New: new, HasOld: hasOld, HasNew: hasNew})
}

// join appends a map key to a path, quoting keys that would read ambiguously.
func join(path, key string) string {
	if key == "" || strings.ContainsAny(key, ".[]\" ") {
		key = fmt.Sprintf("[%q]", key)
		return path + key
	}
	if path == "" {
		return key
	}
	return path + "." + key
}
