package schemagen

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/invopop/jsonschema"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// apiGroups register the Go types of the API groups state.Kinds may name.
// A kind of another group needs its group's AddToScheme here.
var apiGroups = []func(*runtime.Scheme) error{corev1.AddToScheme, rbacv1.AddToScheme}

// kindType is a kind kubernetes.resources accepts, with its Go type.
type kindType struct {
	state.KindInfo
	Type reflect.Type
}

// manifestKinds returns the kinds of state.Kinds that the file declares as
// manifests, in the table's order, each with the Go type its API group
// registers for it.
func manifestKinds() ([]kindType, error) {
	scheme := runtime.NewScheme()
	for _, add := range apiGroups {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	known := scheme.AllKnownTypes()
	var out []kindType
	for _, k := range state.Kinds {
		if !k.Manifest {
			continue
		}
		t, ok := known[schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}]
		if !ok {
			return nil, fmt.Errorf("state.Kinds lists %s %s, which no API group of schemagen's apiGroups registers: add its group's AddToScheme", k.APIVersion(), k.Kind)
		}
		out = append(out, kindType{KindInfo: k, Type: t})
	}
	return out, nil
}

const metaImport = "k8s.io/apimachinery/pkg/apis/meta/v1"

// readComments reads the doc comments of the config package, of
// Kubernetes' core API (the job template's types), of ObjectMeta and of
// the kinds' own packages.
func readComments(moduleRoot string, kinds []kindType) (*comments, error) {
	c := newComments()
	if err := c.addDir(configImport, filepath.Join(moduleRoot, "internal", "config")); err != nil {
		return nil, fmt.Errorf("reading config comments: %w", err)
	}
	pkgs := []string{reflect.TypeFor[corev1.Pod]().PkgPath(), metaImport}
	for _, k := range kinds {
		if p := k.Type.PkgPath(); !contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}
	dirs, err := packageDirs(moduleRoot, pkgs)
	if err != nil {
		return nil, err
	}
	for _, p := range pkgs {
		if err := c.addDir(p, dirs[p]); err != nil {
			return nil, fmt.Errorf("reading %s comments: %w", p, err)
		}
	}
	return c, nil
}

// packageDirs locates the source folders of packages (go list).
func packageDirs(moduleRoot string, pkgs []string) (map[string]string, error) {
	cmd := exec.Command("go", append([]string{"list", "-f", "{{.ImportPath}}\t{{.Dir}}"}, pkgs...)...)
	cmd.Dir = moduleRoot
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("locating %s (go list): %w", strings.Join(pkgs, ", "), err)
	}
	dirs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if p, dir, ok := strings.Cut(line, "\t"); ok {
			dirs[p] = dir
		}
	}
	for _, p := range pkgs {
		if dirs[p] == "" {
			return nil, fmt.Errorf("go list gave no folder for %s", p)
		}
	}
	return dirs, nil
}

// addKinds adds the kinds' definitions to the schema, the rules that tie
// a manifest's kind to its definition, and the kinds to the descriptions
// and enums of kubernetes.resources and kubernetes.external.
func addKinds(root *jsonschema.Schema, r *jsonschema.Reflector, kinds []kindType) error {
	var rules []*jsonschema.Schema
	var kindNames []any
	for _, k := range kinds {
		s := r.ReflectFromType(k.Type)
		for name, def := range s.Definitions {
			root.Definitions[name] = def
		}
		name := r.Namer(k.Type)
		def := root.Definitions[name]
		def.Properties.Delete("status")
		def.Properties.Set("apiVersion", &jsonschema.Schema{Const: k.APIVersion(), Description: "API version of a " + k.Kind + ": " + k.APIVersion() + "."})
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
	resources, err := property(root, "Kubernetes", "resources")
	if err != nil {
		return err
	}
	manifests := state.KindNames(func(k state.KindInfo) bool { return k.Manifest })
	resources.Description = strings.TrimSpace(resources.Description + " Kinds: " + strings.Join(manifests, ", ") + ".")
	external, err := property(root, "ExternalObject", "kind")
	if err != nil {
		return err
	}
	external.Enum = nil
	for _, k := range state.KindNames(func(k state.KindInfo) bool { return k.External }) {
		external.Enum = append(external.Enum, k)
	}
	return nil
}

// property returns a property of one of the schema's definitions.
func property(root *jsonschema.Schema, def, name string) (*jsonschema.Schema, error) {
	if d, ok := root.Definitions[def]; ok && d.Properties != nil {
		if p, ok := d.Properties.Get(name); ok {
			return p, nil
		}
	}
	return nil, fmt.Errorf("the schema has no property %s.%s to list the kinds in", def, name)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
