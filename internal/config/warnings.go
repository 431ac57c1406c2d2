package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Warnings are what validate reports without refusing the file: things
// that work but do nothing. Today, a variable a raw baseJobTemplate
// declares and its job_configuration uses nowhere: a deployment that sets
// it changes nothing, as the worker fills in only the placeholders it
// finds.
func (d *Document) Warnings(f *File) Problems {
	var out Problems
	for i := range f.Pools {
		t := f.Pools[i].BaseJobTemplate
		if t == nil {
			continue
		}
		used := map[string]bool{}
		for _, name := range Placeholders(t.JobConfiguration) {
			root, _, _ := strings.Cut(name, ".")
			used[root] = true
		}
		props, _ := t.Variables["properties"].(map[string]any)
		for _, name := range slices.Sorted(maps.Keys(props)) {
			if used[name] {
				continue
			}
			p := Path{"pools", strconv.Itoa(i), "baseJobTemplate", "variables", "properties", name}
			out = append(out, Problem{File: d.Name, Pos: d.Pos(p), Path: p,
				Message: fmt.Sprintf("variable %q is declared, but job_configuration uses it nowhere: a deployment that sets it changes nothing", name),
				Hint:    fmt.Sprintf("use it as {{ %s }} in job_configuration, or remove it", name)})
		}
	}
	out.Sort()
	return out
}
