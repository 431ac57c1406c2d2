// Package schemagen generates schema/pools.schema.json from the Go types of
// internal/config and the real Kubernetes API types (k8s.io/api) of the
// kinds in state.Kinds, with the types' doc comments as descriptions, and
// docs/kinds.md from state.Kinds.
package schemagen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/invopop/jsonschema"
	orderedmap "github.com/pb33f/ordered-map/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/prefect-apply/prefect-apply/internal/config"
)

const configImport = "github.com/prefect-apply/prefect-apply/internal/config"

// markdown holds richer hover texts for editors, keyed like comments.
var markdown = map[string]string{
	configImport + ".Pool.JobTemplate": "Overrides merged onto the Kubernetes worker's default base job template.\n\n" +
		"```yaml\njobTemplate:\n  image: gbifnorway/prefect-automations:latest\n  serviceAccountName: prefect-worker\n" +
		"  resources:\n    requests: {cpu: 500m, memory: 1Gi}\n    limits: {cpu: \"2\", memory: 4Gi}\n```\n\n" +
		"`prefect-apply render POOL` prints the resulting template.",
	configImport + ".Pool.BaseJobTemplate": "A complete base job template, sent as it is.\n\n" +
		"```yaml\nbaseJobTemplate:\n  job_configuration:\n    command: \"{{ command }}\"\n  variables:\n    properties:\n      command: {type: string}\n```\n\n" +
		"Every `{{ placeholder }}` must be a key of `variables.properties`. The Prefect 2 `{job: ...}` form is not accepted.",
	configImport + ".Secret.Keys": "The Secret's keys and where their values come from at sync time.\n\n" +
		"```yaml\nkeys:\n  auth-string: {fromEnv: PREFECT_API_AUTH_STRING}\n  ca.crt: {fromFile: certs/ca.crt}\n```",
	configImport + ".File.Set": "Name of the ownership set. `sync --prune` deletes only objects recorded under this set that are no longer in the file.",
}

// Generate returns the JSON Schema of pools.yaml. moduleRoot is the folder of
// this module's go.mod, where the config package's comments are read.
func Generate(moduleRoot string) ([]byte, error) {
	kinds, err := manifestKinds()
	if err != nil {
		return nil, err
	}
	c, err := readComments(moduleRoot, kinds)
	if err != nil {
		return nil, err
	}

	types := map[string]reflect.Type{}
	r := &jsonschema.Reflector{
		Anonymous: true,
		Mapper:    mapper,
		Namer: func(t reflect.Type) string {
			name := t.Name()
			if strings.HasPrefix(t.PkgPath(), "k8s.io/") {
				name = "io.k8s." + strings.ReplaceAll(strings.TrimPrefix(t.PkgPath(), "k8s.io/"), "/", ".") + "." + name
				name = strings.ReplaceAll(name, ".pkg.apis.", ".")
			}
			types[name] = t
			return name
		},
		LookupComment: func(t reflect.Type, field string) string {
			if field == "" {
				return c.text[t.PkgPath()+"."+t.Name()]
			}
			return c.field(t, field)
		},
	}
	root := r.Reflect(&config.File{})
	root.Version = "http://json-schema.org/draft-07/schema#"
	root.Title = "prefect-apply pools.yaml"

	if err := addKinds(root, r, kinds); err != nil {
		return nil, err
	}
	root.Definitions["io.k8s.apimachinery.meta.v1.ObjectMeta"] = objectMeta()

	for name, def := range root.Definitions {
		if t, ok := types[name]; ok {
			dropOptional(def, t, c)
			addMarkdown(def, t)
		}
	}
	pruneDefinitions(root)
	if err := checkDescriptions(root); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func props(kv ...any) *orderedmap.OrderedMap[string, *jsonschema.Schema] {
	p := jsonschema.NewProperties()
	for i := 0; i+1 < len(kv); i += 2 {
		p.Set(kv[i].(string), kv[i+1].(*jsonschema.Schema))
	}
	return p
}

func mapper(t reflect.Type) *jsonschema.Schema {
	switch t {
	case reflect.TypeFor[resource.Quantity]():
		return &jsonschema.Schema{
			AnyOf: []*jsonschema.Schema{
				{Type: "string", Pattern: `^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$`},
				{Type: "number"},
			},
		}
	case reflect.TypeFor[intstr.IntOrString]():
		return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{{Type: "string"}, {Type: "integer"}}}
	case reflect.TypeFor[metav1.Time](), reflect.TypeFor[metav1.MicroTime]():
		return &jsonschema.Schema{Type: "string", Format: "date-time"}
	case reflect.TypeFor[config.Resource]():
		return &jsonschema.Schema{Ref: "#/$defs/KubernetesResource"}
	}
	return nil
}

// objectMeta is the part of ObjectMeta a manifest may set; the rest is the
// server's.
func objectMeta() *jsonschema.Schema {
	strMap := func(desc string) *jsonschema.Schema {
		return &jsonschema.Schema{Type: "object", AdditionalProperties: &jsonschema.Schema{Type: "string"}, Description: desc}
	}
	return &jsonschema.Schema{
		Type:                 "object",
		Description:          "Metadata of the object: name, namespace, labels and annotations.",
		AdditionalProperties: jsonschema.FalseSchema,
		Required:             []string{"name"},
		Properties: props(
			"name", &jsonschema.Schema{Type: "string", MinLength: ptr(uint64(1)), Description: "Name of the object, unique within its namespace (or the cluster)."},
			"namespace", &jsonschema.Schema{Type: "string", Description: "Namespace of the object. Defaults to kubernetes.namespace for namespaced kinds; not used by cluster-scoped kinds."},
			"labels", strMap("Labels of the object. prefect-apply adds app.kubernetes.io/managed-by and its set label."),
			"annotations", strMap("Annotations of the object."),
		),
	}
}

func ptr[T any](v T) *T { return &v }

// dropOptional removes from required the fields Kubernetes marks +optional.
func dropOptional(def *jsonschema.Schema, t reflect.Type, c *comments) {
	if len(def.Required) == 0 || t.Kind() != reflect.Struct {
		return
	}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && name == "" {
				walk(f.Type)
				continue
			}
			if c.optional[t.PkgPath()+"."+t.Name()+"."+f.Name] {
				def.Required = slices.DeleteFunc(def.Required, func(s string) bool { return s == name })
			}
		}
	}
	walk(t)
	if len(def.Required) == 0 {
		def.Required = nil
	}
}

func addMarkdown(def *jsonschema.Schema, t reflect.Type) {
	if def.Properties == nil || t.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		md, ok := markdown[t.PkgPath()+"."+t.Name()+"."+f.Name]
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if p, ok := def.Properties.Get(name); ok {
			if p.Extras == nil {
				p.Extras = map[string]any{}
			}
			p.Extras["markdownDescription"] = md
		}
	}
}

// checkDescriptions fails when a property of the file's own types has no
// description: every field a user writes must explain itself on hover.
func checkDescriptions(root *jsonschema.Schema) error {
	var missing []string
	for name, def := range root.Definitions {
		if def.Properties == nil {
			continue
		}
		for pair := def.Properties.Oldest(); pair != nil; pair = pair.Next() {
			if pair.Value.Description == "" {
				missing = append(missing, name+"."+pair.Key)
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("properties without a description: %s", strings.Join(missing, ", "))
	}
	return nil
}

// pruneDefinitions drops definitions nothing refers to (the parts of
// ObjectMeta that objectMeta replaced, for example).
func pruneDefinitions(root *jsonschema.Schema) {
	reachable := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		if reachable[name] {
			return
		}
		reachable[name] = true
		def, ok := root.Definitions[name]
		if !ok {
			return
		}
		b, _ := json.Marshal(def)
		for _, ref := range refs(b) {
			visit(ref)
		}
	}
	def := root.Definitions
	root.Definitions = nil
	top, _ := json.Marshal(root)
	root.Definitions = def
	for _, ref := range refs(top) {
		visit(ref)
	}
	for name := range root.Definitions {
		if !reachable[name] {
			delete(root.Definitions, name)
		}
	}
}

func refs(b []byte) []string {
	var out []string
	const marker = `"$ref":"#/$defs/`
	for {
		i := bytes.Index(b, []byte(marker))
		if i < 0 {
			return out
		}
		b = b[i+len(marker):]
		j := bytes.IndexByte(b, '"')
		out = append(out, string(b[:j]))
		b = b[j:]
	}
}
