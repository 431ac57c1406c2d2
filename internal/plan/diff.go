package plan

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// normalize turns any JSON-compatible value into the form encoding/json
// decodes to (float64 numbers, map[string]any, []any), so that values read
// from YAML, built in Go and read from a server compare equal.
func normalize(v any) any {
	if v == nil {
		return nil
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

// diffValues appends the differences between old and new under path.
// Maps are compared key by key; lists of equal length item by item; other
// lists and scalars as a whole.
func diffValues(path string, old, new any, hasOld, hasNew bool, out *[]FieldChange) {
	if hasOld && hasNew && reflect.DeepEqual(old, new) {
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
	if hasOld && hasNew && oIsList && nIsList && len(ol) == len(nl) {
		for i := range ol {
			diffValues(path+"["+strconv.Itoa(i)+"]", ol[i], nl[i], true, true, out)
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
