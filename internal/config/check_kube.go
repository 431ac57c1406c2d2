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
	type bindingRef struct {
		path Path
		ns   string
		res  Resource
	}
	var bindings []bindingRef
	for i, r := range k.Resources {
		p := base.Child("resources", strconv.Itoa(i))
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
		declare(p, ObjectID{kind, ns, name}, keys)
		if state.IsBinding(kind) {
			bindings = append(bindings, bindingRef{p, ns, r})
		}
	}
	for i, s := range k.Secrets {
		p := base.Child("secrets", strconv.Itoa(i))
		c.dns1123Subdomain(p.Child("name"), s.Name)
		ns := orDefault(s.Namespace, k.Namespace)
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
		declare(p, ObjectID{"Secret", ns, s.Name}, keys)
	}
	for i, e := range k.External {
		p := base.Child("external", strconv.Itoa(i))
		ns := ""
		if !state.IsClusterScoped(e.Kind) {
			ns = orDefault(e.Namespace, k.Namespace)
			if ns == "" {
				c.add(p, "external %s %q has no namespace", e.Kind, e.Name)
			}
		} else if e.Namespace != "" {
			c.add(p.Child("namespace"), "a %s has no namespace", e.Kind)
		}
		var keys map[string]bool
		if len(e.Keys) > 0 {
			keys = map[string]bool{}
			for _, key := range e.Keys {
				keys[key] = true
			}
		}
		declare(p, ObjectID{e.Kind, ns, e.Name}, keys)
	}
	// Every namespaced object needs its namespace.
	for id, p := range declared {
		if id.Namespace != "" {
			c.require(p, ObjectID{"Namespace", "", id.Namespace}, "", fmt.Sprintf("%s %q lives in namespace %q", id.Kind, id.Name, id.Namespace))
		}
	}
	// Bindings must name service accounts that exist: the runbook's
	// service-account mismatch is caught here.
	for _, b := range bindings {
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
}
