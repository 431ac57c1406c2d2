package config

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// kubernetes checks the Kubernetes section and records what it declares.
func (c *checker) kubernetes() {
	k := c.f.Kubernetes
	if k == nil {
		return
	}
	base := Path{"kubernetes"}
	if k.Namespace != "" {
		c.dns1123Label(base.Child("namespace"), k.Namespace)
	}
	declared := map[ObjectID]Path{}
	declare := func(p Path, id ObjectID, keys map[string]bool) {
		if prev, dup := declared[id]; dup {
			c.add(p, "%s is declared twice (also at %s)", id, prev)
			return
		}
		declared[id] = p
		c.known[id] = keys
	}
	var bindings []bindingRef
	for i, r := range k.Resources {
		p := base.Child("resources", strconv.Itoa(i))
		id, keys := c.resource(p, r)
		declare(p, id, keys)
		if state.IsBinding(id.Kind) {
			bindings = append(bindings, bindingRef{p, id.Namespace, r})
		}
	}
	for i, s := range k.Secrets {
		p := base.Child("secrets", strconv.Itoa(i))
		id, keys := c.secret(p, s)
		declare(p, id, keys)
	}
	for i, e := range k.External {
		p := base.Child("external", strconv.Itoa(i))
		declare(p, c.external(p, e), keySet(e.Keys))
	}
	// Every namespaced object needs its namespace.
	for id, p := range declared {
		if id.Namespace != "" {
			c.require(p, ObjectID{"Namespace", "", id.Namespace}, "", fmt.Sprintf("%s %q lives in namespace %q", id.Kind, id.Name, id.Namespace))
		}
	}
	for _, b := range bindings {
		c.bindingSubjects(b)
	}
}

// resource checks a manifest's name and namespace; it returns its identity
// and, for a ConfigMap, its keys.
func (c *checker) resource(p Path, r Resource) (ObjectID, map[string]bool) {
	kind, _ := r["kind"].(string)
	name := ResourceName(r)
	md, _ := r["metadata"].(map[string]any)
	if kind == "Namespace" {
		c.dns1123Label(p.Child("metadata", "name"), name)
	} else {
		c.dns1123Subdomain(p.Child("metadata", "name"), name)
	}
	ns := c.f.ResourceNamespace(r)
	if state.IsClusterScoped(kind) {
		if explicit, _ := md["namespace"].(string); explicit != "" {
			c.add(p.Child("metadata", "namespace"), "%s is cluster-scoped; remove metadata.namespace", kind)
		}
	} else if ns == "" {
		c.add(p.Child("metadata"), "%s %q has no namespace", kind, name).Hint = "set metadata.namespace, or kubernetes.namespace for all objects"
	} else {
		c.dns1123Label(p.Child("metadata", "namespace"), ns)
	}
	var keys map[string]bool
	if kind == "ConfigMap" {
		keys = map[string]bool{}
		for _, field := range []string{"data", "binaryData"} {
			data, _ := r[field].(map[string]any)
			for key := range data {
				keys[key] = true
			}
		}
	}
	return ObjectID{kind, ns, name}, keys
}

// secret checks a Secret of kubernetes.secrets; it returns its identity
// and its keys.
func (c *checker) secret(p Path, s Secret) (ObjectID, map[string]bool) {
	c.dns1123Subdomain(p.Child("name"), s.Name)
	ns := orDefault(s.Namespace, c.f.DefaultNamespace())
	if ns == "" {
		c.add(p, "Secret %q has no namespace", s.Name).Hint = "set namespace, or kubernetes.namespace for all objects"
	}
	keys := map[string]bool{}
	for key, src := range s.Keys {
		kp := p.Child("keys", key)
		keys[key] = true
		for _, msg := range validation.IsConfigMapKey(key) {
			c.add(kp, "%q is not a valid Secret key: %s", key, plainK8sMessage(msg))
		}
		if (src.FromEnv == "") == (src.FromFile == "") {
			c.add(kp, "give exactly one of fromEnv or fromFile for key %q", key)
		}
	}
	return ObjectID{"Secret", ns, s.Name}, keys
}

// external checks the namespace of an object of kubernetes.external and
// returns its identity.
func (c *checker) external(p Path, e ExternalObject) ObjectID {
	ns := ""
	if !state.IsClusterScoped(e.Kind) {
		ns = orDefault(e.Namespace, c.f.DefaultNamespace())
		if ns == "" {
			c.add(p, "external %s %q has no namespace", e.Kind, e.Name)
		}
	} else if e.Namespace != "" {
		c.add(p.Child("namespace"), "a %s has no namespace", e.Kind)
	}
	return ObjectID{e.Kind, ns, e.Name}
}

// keySet is the set of keys, nil (any key) when there are none.
func keySet(keys []string) map[string]bool {
	if len(keys) == 0 {
		return nil
	}
	set := map[string]bool{}
	for _, key := range keys {
		set[key] = true
	}
	return set
}

// bindingRef is a RoleBinding or ClusterRoleBinding of the file, in its
// namespace ("" for a ClusterRoleBinding).
type bindingRef struct {
	path Path
	ns   string
	res  Resource
}

// bindingSubjects requires the ServiceAccounts a binding names to exist:
// the runbook's service-account mismatch is caught here.
func (c *checker) bindingSubjects(b bindingRef) {
	for _, s := range state.ServiceAccountSubjects(b.res, b.ns) {
		p := b.path.Child("subjects", strconv.Itoa(s.Index))
		switch {
		case s.Key.Name == "default":
		case s.Key.Namespace == "":
			c.add(p, "ServiceAccount subject %q has no namespace", s.Key.Name).Hint =
				"set the namespace of the ServiceAccount on the subject"
		default:
			c.require(p, ObjectID{"ServiceAccount", s.Key.Namespace, s.Key.Name}, "", "")
		}
	}
}
