// Package schemagen generates schema/pools.schema.json from the Go types of
// internal/config and the real Kubernetes API types (k8s.io/api), with the
// types' doc comments as descriptions.
package schemagen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/invopop/jsonschema"
	orderedmap "github.com/pb33f/ordered-map/v2"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/prefect-apply/prefect-apply/internal/config"
)

const configImport = "github.com/prefect-apply/prefect-apply/internal/config"

// Kinds lists the native Kubernetes manifests kubernetes.resources accepts,
// with their apiVersion and Go type.
var Kinds = []struct {
	APIVersion, Kind string
	Type             reflect.Type
}{
	{"v1", "Namespace", reflect.TypeFor[corev1.Namespace]()},
	{"v1", "ServiceAccount", reflect.TypeFor[corev1.ServiceAccount]()},
	{"rbac.authorization.k8s.io/v1", "Role", reflect.TypeFor[rbacv1.Role]()},
	{"rbac.authorization.k8s.io/v1", "ClusterRole", reflect.TypeFor[rbacv1.ClusterRole]()},
	{"rbac.authorization.k8s.io/v1", "RoleBinding", reflect.TypeFor[rbacv1.RoleBinding]()},
	{"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", reflect.TypeFor[rbacv1.ClusterRoleBinding]()},
	{"v1", "PersistentVolumeClaim", reflect.TypeFor[corev1.PersistentVolumeClaim]()},
	{"v1", "ConfigMap", reflect.TypeFor[corev1.ConfigMap]()},
}

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
	c := newComments()
	if err := c.addDir(configImport, filepath.Join(moduleRoot, "internal", "config")); err != nil {
		return nil, fmt.Errorf("reading config comments: %w", err)
	}
	for mod, pkgs := range map[string][]string{
		"k8s.io/api":          {"core/v1", "rbac/v1"},
		"k8s.io/apimachinery": {"pkg/apis/meta/v1"},
	} {
		dir, err := moduleDir(moduleRoot, mod)
		if err != nil {
			return nil, err
		}
		for _, p := range pkgs {
			if err := c.addDir(mod+"/"+p, filepath.Join(dir, filepath.FromSlash(p))); err != nil {
				return nil, fmt.Errorf("reading %s comments: %w", mod, err)
			}
		}
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

	var rules []*jsonschema.Schema
	var kindNames []any
	for _, k := range Kinds {
		s := r.ReflectFromType(k.Type)
		for name, def := range s.Definitions {
			root.Definitions[name] = def
		}
		name := r.Namer(k.Type)
		def := root.Definitions[name]
		def.Properties.Delete("status")
		def.Properties.Set("apiVersion", &jsonschema.Schema{Const: k.APIVersion, Description: "API version of a " + k.Kind + ": " + k.APIVersion + "."})
		def.Properties.Set("kind", &jsonschema.Schema{Const: k.Kind, Description: "Kind of the object: " + k.Kind + "."})
		def.Required = []string{"apiVersion", "kind", "metadata"}
		kindNames = append(kindNames, k.Kind)
		rules = append(rules, &jsonschema.Schema{
			If:   &jsonschema.Schema{Properties: props("kind", &jsonschema.Schema{Const: k.Kind}), Required: []string{"kind"}},
			Then: &jsonschema.Schema{Ref: "#/$defs/" + name},
		})
	}
	root.Definitions["KubernetesResource"] = &jsonschema.Schema{
		Type:        "object",
		Description: "A Kubernetes manifest of one of the supported kinds.",
		Required:    []string{"apiVersion", "kind", "metadata"},
		Properties: props(
			"kind", &jsonschema.Schema{Type: "string", Enum: kindNames, Description: "Kind of the object. Secrets are declared under kubernetes.secrets instead."},
			"apiVersion", &jsonschema.Schema{Type: "string", Description: "API version of the object, e.g. v1 or rbac.authorization.k8s.io/v1."},
		),
		AllOf: rules,
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

func moduleDir(moduleRoot, mod string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod)
	cmd.Dir = moduleRoot
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating module %s (go list -m): %w", mod, err)
	}
	return strings.TrimSpace(string(out)), nil
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
