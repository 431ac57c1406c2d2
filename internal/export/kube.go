package export

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// Kube is what export reads from a cluster.
type Kube interface {
	Get(ctx context.Context, key state.Key) (*unstructured.Unstructured, bool, error)
	List(ctx context.Context, kind state.Key, namespace string) ([]*unstructured.Unstructured, error)
}

const rbacGroup = "rbac.authorization.k8s.io"

// kubeSection collects the objects of the file's kubernetes section.
type kubeSection struct {
	resources map[state.Key]config.Resource
	externals map[state.Key]*config.ExternalObject
	users     map[state.Key][]string // pools using each external object
	secrets   map[state.Key]bool     // externals read from the cluster
	declared  []config.Secret        // the Secrets secret values moved to
	warnings  []string
}

func newKubeSection() *kubeSection {
	return &kubeSection{resources: map[state.Key]config.Resource{}, externals: map[state.Key]*config.ExternalObject{},
		users: map[state.Key][]string{}, secrets: map[state.Key]bool{}}
}

// external lists an object under kubernetes.external (with its namespace,
// which the validator wants known too), unless the file declares it.
func (k *kubeSection) external(key state.Key, keys []string, pool string) {
	if key.Kind == "Namespace" && builtinNamespaces[key.Name] {
		return
	}
	if key.Namespace != "" {
		k.external(state.Key{System: state.Kubernetes, Kind: "Namespace", Name: key.Namespace}, nil, "")
	}
	if _, ok := k.resources[key]; ok {
		return
	}
	e, ok := k.externals[key]
	if !ok {
		e = &config.ExternalObject{Kind: key.Kind, Name: key.Name, Namespace: key.Namespace}
		k.externals[key] = e
	}
	e.Keys = union(e.Keys, keys)
	if pool != "" && !contains(k.users[key], pool) {
		k.users[key] = append(k.users[key], pool)
	}
}

// resource declares a live object under kubernetes.resources, without its
// server-set fields and ownership labels.
func (k *kubeSection) resource(o *unstructured.Unstructured) {
	key := state.ObjectKey(o)
	delete(k.externals, key)
	k.resources[key] = clean(o)
	if key.Namespace != "" {
		k.external(state.Key{System: state.Kubernetes, Kind: "Namespace", Name: key.Namespace}, nil, "")
	}
}

// read fills the section from the cluster: service accounts and the RBAC
// that binds them become resources; Secrets, ConfigMaps and PVCs are
// external, with the keys they hold. Secret values are dropped as soon as
// they are read.
func (k *kubeSection) read(ctx context.Context, kube Kube, refs []ref) error {
	var sas []state.Key
	byKey := map[state.Key][]ref{}
	for _, r := range refs {
		byKey[r.key()] = append(byKey[r.key()], r)
	}
	keys := make([]state.Key, 0, len(byKey))
	for key := range byKey {
		keys = append(keys, key)
	}
	state.SortKeys(keys)
	for _, key := range keys {
		rs := byKey[key]
		pool := rs[0].pool
		var wantKeys []string
		for _, r := range rs {
			if r.dataKey != "" {
				wantKeys = append(wantKeys, r.dataKey)
			}
		}
		o, found, err := kube.Get(ctx, key)
		if err != nil {
			return err
		}
		if !found {
			k.warnings = append(k.warnings, fmt.Sprintf("%s, which work pool %q uses, does not exist in the cluster; listed under kubernetes.external, so diff fails until it does", key, pool))
			k.external(key, wantKeys, pool)
			continue
		}
		switch key.Kind {
		case "ServiceAccount":
			k.resource(o)
			sas = append(sas, key)
		case "Secret", "ConfigMap":
			have := dataKeys(o) // only the keys: the values go no further
			for _, w := range wantKeys {
				if !contains(have, w) {
					k.warnings = append(k.warnings, fmt.Sprintf("%s has no key %q, which work pool %q uses; diff fails until it does", key, w, pool))
				}
			}
			k.secrets[key] = key.Kind == "Secret"
			k.external(key, union(have, wantKeys), pool)
		default:
			k.external(key, nil, pool)
		}
		for _, r := range rs[1:] {
			k.external(key, nil, r.pool)
		}
	}
	if len(sas) == 0 {
		return nil
	}
	return k.rbac(ctx, kube, sas)
}

// rbac declares the RoleBindings and ClusterRoleBindings that name one of
// the service accounts, and the roles they grant, except Kubernetes' own
// (system:, bootstrapped) roles, which bindings may still name.
func (k *kubeSection) rbac(ctx context.Context, kube Kube, sas []state.Key) error {
	isOurs := map[state.Key]bool{}
	for _, sa := range sas {
		isOurs[sa] = true
	}
	for _, kind := range []string{"RoleBinding", "ClusterRoleBinding"} {
		list, err := kube.List(ctx, state.Key{System: state.Kubernetes, Group: rbacGroup, Kind: kind}, "")
		if err != nil {
			return err
		}
		sort.Slice(list, func(i, j int) bool { return state.ObjectKey(list[i]).Less(state.ObjectKey(list[j])) })
		for _, b := range list {
			subjects := state.ServiceAccountSubjects(b.Object, b.GetNamespace())
			binds := false
			for _, s := range subjects {
				binds = binds || isOurs[s.Key]
			}
			if !binds {
				continue
			}
			k.resource(b)
			for _, s := range subjects {
				if s.Key.Name != "default" {
					k.external(s.Key, nil, "")
				}
			}
			role, ok := state.RoleRef(b.Object, b.GetNamespace())
			if !ok || strings.HasPrefix(role.Name, "system:") {
				continue
			}
			if _, done := k.resources[role]; done {
				continue
			}
			o, found, err := kube.Get(ctx, role)
			if err != nil {
				return err
			}
			if !found {
				k.warnings = append(k.warnings, fmt.Sprintf("%s grants %s, which does not exist", state.ObjectKey(b), role))
				continue
			}
			if o.GetLabels()["kubernetes.io/bootstrapping"] == "rbac-defaults" {
				continue
			}
			k.resource(o)
		}
	}
	return nil
}

// clean returns a live object as a manifest: no status, no server-set
// metadata, no last-applied annotation, no ownership labels (sync adds the
// set's own).
func clean(o *unstructured.Unstructured) config.Resource {
	obj := o.DeepCopy().Object
	delete(obj, "status")
	md := map[string]any{"name": o.GetName()}
	if ns := o.GetNamespace(); ns != "" {
		md["namespace"] = ns
	}
	labels := o.GetLabels()
	delete(labels, state.ManagedByLabel)
	delete(labels, state.SetLabel)
	if len(labels) > 0 {
		md["labels"] = toAny(labels)
	}
	ann := o.GetAnnotations()
	delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
	if len(ann) > 0 {
		md["annotations"] = toAny(ann)
	}
	obj["metadata"] = md
	return config.Resource(obj)
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// dataKeys returns the keys of a Secret's or ConfigMap's data, sorted.
func dataKeys(o *unstructured.Unstructured) []string {
	var keys []string
	for _, field := range []string{"data", "binaryData", "stringData"} {
		m, _, _ := unstructured.NestedMap(o.Object, field)
		for k := range m {
			keys = append(keys, k)
		}
	}
	return union(nil, keys)
}

// section assembles the kubernetes section in apply order, and the
// comments for the Secrets under external.
func (k *kubeSection) section(comments map[string]string) *config.Kubernetes {
	if len(k.resources)+len(k.externals)+len(k.declared) == 0 {
		return nil
	}
	out := &config.Kubernetes{Secrets: k.declared}
	for i, s := range k.declared {
		comments[fmt.Sprintf("kubernetes.secrets.%d", i)] = declaredHint(s)
	}
	for _, key := range sortedKeys(k.resources) {
		out.Resources = append(out.Resources, k.resources[key])
	}
	for i, key := range sortedKeys(k.externals) {
		e := k.externals[key]
		out.External = append(out.External, *e)
		var lines []string
		if users := k.users[key]; len(users) > 0 {
			sort.Strings(users)
			noun := "work pool "
			if len(users) > 1 {
				noun = "work pools "
			}
			lines = append(lines, "Used by "+noun+quoteAll(users)+".")
		}
		if k.secrets[key] {
			lines = append(lines, secretHint(e)...)
		}
		if len(lines) > 0 {
			comments[fmt.Sprintf("kubernetes.external.%d", i)] = strings.Join(lines, "\n")
		}
	}
	return out
}

// declaredHint says where a declared Secret's values come from.
func declaredHint(s config.Secret) string {
	keys := make([]string, 0, len(s.Keys))
	for k := range s.Keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := []string{"The secret values of the live job template, kept out of this file.",
		"sync creates this Secret from these environment variables; set them to",
		"the values before the first sync:"}
	for _, k := range keys {
		lines = append(lines, fmt.Sprintf("  %s: %s", k, s.Keys[k].FromEnv))
	}
	return strings.Join(append(lines, "Until then the live template still holds the values in plain text;",
		"that sync replaces them with these references."), "\n")
}

// secretHint says how to let prefect-apply manage a Secret's values.
func secretHint(e *config.ExternalObject) []string {
	lines := []string{
		"Its values stay where they are: prefect-apply never reads them out.",
		"To manage them from this file, move the Secret to kubernetes.secrets,",
		"its values read from the environment at sync time:",
		"  - name: " + e.Name,
		"    namespace: " + e.Namespace,
		"    keys:",
	}
	for _, key := range e.Keys {
		lines = append(lines, fmt.Sprintf("      %s: {fromEnv: %s}", key, envName(e.Name, key)))
	}
	return lines
}

// envName is the environment variable a Secret key's value would come
// from: the Secret's name and the key, in UPPER_SNAKE_CASE.
func envName(name, key string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(name + "_" + key) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		s = "_" + s
	}
	return s
}

// sortedKeys returns the keys of m in the order sync applies them: by
// rank (state.Rank), kinds of one rank as state.Kinds lists them.
func sortedKeys[V any](m map[state.Key]V) []state.Key {
	keys := make([]state.Key, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.Kind != b.Kind {
			return state.LessKind(a.Kind, b.Kind)
		}
		return a.Less(b)
	})
	return keys
}

func union(a, b []string) []string {
	set := map[string]bool{}
	for _, s := range append(append([]string{}, a...), b...) {
		set[s] = true
	}
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
