package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

var placeholderRE = regexp.MustCompile(`\{\{\s*([^{}\s]+)\s*\}\}`)

// Placeholders returns the {{ name }} placeholders used anywhere in v.
func Placeholders(v any) []string {
	set := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			for _, m := range placeholderRE.FindAllStringSubmatch(x, -1) {
				set[m[1]] = true
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return slices.Sorted(maps.Keys(set))
}

// placeholderPaths calls fn for each {{ name }} placeholder in v, with the
// path of the string that holds it.
func placeholderPaths(v any, p Path, fn func(name string, at Path)) {
	switch x := v.(type) {
	case string:
		for _, m := range placeholderRE.FindAllStringSubmatch(x, -1) {
			fn(m[1], p)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			placeholderPaths(x[k], p.Child(k), fn)
		}
	case []any:
		for i, e := range x {
			placeholderPaths(e, p.Child(fmt.Sprint(i)), fn)
		}
	}
}

// baseJobTemplate applies the server's rules (every placeholder has a
// variable) and catches a container that starts a worker.
func (c *checker) baseJobTemplate(p Path, t *BaseJobTemplate) {
	props, _ := t.Variables["properties"].(map[string]any)
	if _, ok := t.Variables["properties"]; !ok {
		c.add(p.Child("variables"), "variables has no properties; it must be a JSON Schema object with `properties`")
	}
	placeholderPaths(t.JobConfiguration, p.Child("job_configuration"), func(name string, at Path) {
		// Prefect resolves dotted placeholders ({{ a.b }}) against the
		// variable named by the first part.
		root, _, _ := strings.Cut(name, ".")
		if _, ok := props[root]; !ok {
			c.add(at, "placeholder {{ %s }} has no variable; the server rejects the template", name).Hint =
				fmt.Sprintf("add %q under variables.properties, or remove the placeholder", root)
		}
	})
	c.variableDefaults(p.Child("variables"), t.Variables)
	if cmd, ok := t.JobConfiguration["command"].(string); ok && isWorkerStart(strings.Fields(cmd)) {
		c.workerStart(p.Child("job_configuration", "command"))
	}
	if cmdVar, ok := props["command"].(map[string]any); ok {
		if def, ok := cmdVar["default"].(string); ok && isWorkerStart(strings.Fields(def)) {
			c.workerStart(p.Child("variables", "properties", "command", "default"))
		}
	}
	manifest, _ := t.JobConfiguration["job_manifest"].(map[string]any)
	for i, ctr := range containers(manifest) {
		if field, ok := containerWorkerStart(ctr); ok {
			c.workerStart(p.Child("job_configuration", "job_manifest", "spec", "template", "spec", "containers", fmt.Sprint(i), field))
		}
	}
}

// prefect2Template reports the Prefect 2 {"job": ...} form, with the
// equivalent jobTemplate as the hint.
func (d *Document) prefect2Templates() Problems {
	root, _ := d.Value.(map[string]any)
	pools, _ := root["pools"].([]any)
	var out Problems
	for i, p := range pools {
		pm, _ := p.(map[string]any)
		t, _ := pm["baseJobTemplate"].(map[string]any)
		job, ok := t["job"].(map[string]any)
		if !ok {
			continue
		}
		path := Path{"pools", fmt.Sprint(i), "baseJobTemplate"}
		hint := "Prefect 3 expects {job_configuration: {job_manifest: ...}, variables: {properties: ...}}. The same settings as jobTemplate overrides (merged onto the Kubernetes worker's default; replace baseJobTemplate with this):\n" + translatePrefect2(job)
		out = append(out, Problem{File: d.Name, Pos: d.KeyPos(path.Child("job")), Path: path,
			Message: "this is the Prefect 2 `{job: ...}` template format; Prefect 3 rejects it (422)", Hint: hint})
		for j, ctr := range containers(job) {
			if field, ok := containerWorkerStart(ctr); ok {
				cp := path.Child("job", "spec", "template", "spec", "containers", fmt.Sprint(j), field)
				out = append(out, Problem{File: d.Name, Pos: d.Pos(cp), Path: cp,
					Message: "the job's container runs `prefect worker start`: every flow-run Job would start a long-lived worker instead of running its flow",
					Hint:    "leave the command empty so the worker runs the flow; run the worker itself as a Deployment, outside the job template"})
			}
		}
	}
	return out
}

// translatePrefect2 maps a Prefect 2 KubernetesJob manifest onto jobTemplate
// fields and renders them as YAML.
func translatePrefect2(job map[string]any) string {
	jt := map[string]any{}
	if md, ok := job["metadata"].(map[string]any); ok {
		copyKeys(jt, md, map[string]string{"namespace": "namespace", "labels": "labels", "annotations": "annotations"})
	}
	spec, _ := job["spec"].(map[string]any)
	copyKeys(jt, spec, map[string]string{"backoffLimit": "backoffLimit", "ttlSecondsAfterFinished": "finishedJobTTL"})
	tmpl, _ := spec["template"].(map[string]any)
	podSpec, _ := tmpl["spec"].(map[string]any)
	copyKeys(jt, podSpec, map[string]string{"serviceAccountName": "serviceAccountName", "nodeSelector": "nodeSelector", "tolerations": "tolerations", "volumes": "volumes"})
	if ctrs := containers(job); len(ctrs) > 0 {
		copyKeys(jt, ctrs[0], map[string]string{"image": "image", "imagePullPolicy": "imagePullPolicy", "env": "env", "resources": "resources", "volumeMounts": "volumeMounts"})
	}
	out, err := yaml.Marshal(map[string]any{"jobTemplate": jt})
	if err != nil {
		raw, _ := json.Marshal(jt)
		return string(raw)
	}
	return "  " + strings.ReplaceAll(strings.TrimRight(string(out), "\n"), "\n", "\n  ")
}

func copyKeys(dst, src map[string]any, names map[string]string) {
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, from := range keys {
		if v, ok := src[from]; ok {
			dst[names[from]] = v
		}
	}
}

func containers(job map[string]any) []map[string]any {
	spec, _ := job["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	podSpec, _ := tmpl["spec"].(map[string]any)
	list, _ := podSpec["containers"].([]any)
	var out []map[string]any
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// containerWorkerStart reports whether a container's command and args run
// `prefect worker start`, and which of the two fields to point at.
func containerWorkerStart(ctr map[string]any) (field string, ok bool) {
	if !isWorkerStart(append(stringList(ctr["command"]), stringList(ctr["args"])...)) {
		return "", false
	}
	if _, hasArgs := ctr["args"]; hasArgs && !isWorkerStart(stringList(ctr["command"])) {
		return "args", true
	}
	return "command", true
}

func stringList(v any) []string {
	var out []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, strings.Fields(s)...)
			}
		}
	case string:
		out = strings.Fields(x)
	}
	return out
}

// variableDefaults checks each variable's default against the variable's
// own schema. The server does so when a pool is created but not when it is
// updated, so a bad default would otherwise slip through on update.
func (c *checker) variableDefaults(p Path, variables map[string]any) {
	props, _ := variables["properties"].(map[string]any)
	if len(props) == 0 {
		return
	}
	doc := NormalizeJSON(variables)
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	if err := comp.AddResource(variablesURL, doc); err != nil {
		c.add(p, "variables is not a valid JSON Schema: %v", schemaErrorMessage(err))
		return
	}
	// The whole document is checked against the metaschema once: one bad
	// variable would otherwise fail every other variable's compilation too.
	if _, err := comp.Compile(variablesURL); err != nil {
		at, msg := schemaErrorAt(err)
		c.add(p.Child(at...), "not a valid JSON Schema: %s", msg)
		return
	}
	for _, name := range slices.Sorted(maps.Keys(props)) {
		prop, _ := props[name].(map[string]any)
		def, ok := prop["default"]
		if !ok || def == nil {
			continue
		}
		sch, err := comp.Compile(variablesURL + "#/properties/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(name))
		if err != nil {
			c.add(p.Child("properties", name), "variable %q is not a valid JSON Schema: %v", name, schemaErrorMessage(err))
			continue
		}
		if err := sch.Validate(NormalizeJSON(def)); err != nil {
			msg := err.Error()
			if ve, ok := err.(*jsonschema.ValidationError); ok {
				msg = leafMessage(ve)
			}
			c.add(p.Child("properties", name, "default"), "the default of variable %q does not match its schema: %s", name, msg)
		}
	}
}

// variablesURL names the variables document in the validator: an absolute
// URL, so that messages do not depend on the working directory.
const variablesURL = "urn:prefect-apply:variables"

// schemaErrorAt locates a compilation error inside the variables document:
// for a metaschema failure, where in the document and what; else the first
// line of the error.
func schemaErrorAt(err error) (Path, string) {
	var sve *jsonschema.SchemaValidationError
	if errors.As(err, &sve) {
		if ve, ok := sve.Err.(*jsonschema.ValidationError); ok {
			for len(ve.Causes) > 0 {
				ve = ve.Causes[0]
			}
			return Path(ve.InstanceLocation), ve.ErrorKind.LocalizedString(printer)
		}
	}
	return nil, schemaErrorMessage(err)
}

// schemaErrorMessage is the first line of a compilation error, without the
// document's URL.
func schemaErrorMessage(err error) string {
	return strings.ReplaceAll(firstLine(err.Error()), variablesURL, "variables")
}

func leafMessage(e *jsonschema.ValidationError) string {
	for len(e.Causes) > 0 {
		e = e.Causes[0]
	}
	return e.ErrorKind.LocalizedString(printer)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// NormalizeJSON converts decoded YAML (int64 and the like) or any Go value
// into the values encoding/json produces, which the JSON Schema validator
// expects.
func NormalizeJSON(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		return v
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return v
	}
	return out
}
