package state

// What a RoleBinding or ClusterRoleBinding refers to, read the one way the
// validator, the planner and export all need: the ServiceAccounts it
// grants to and the role it grants.

// IsBinding reports whether kind is RoleBinding or ClusterRoleBinding.
func IsBinding(kind string) bool { return kind == "RoleBinding" || kind == "ClusterRoleBinding" }

// Subject is a ServiceAccount a binding names.
type Subject struct {
	// Index is the subject's place in the binding's subjects.
	Index int
	// Key is the ServiceAccount's; its Namespace is "" when neither the
	// subject nor the binding names one.
	Key Key
}

// ServiceAccountSubjects returns the ServiceAccount subjects of a binding
// (its content, as in a manifest). A subject without a namespace is in
// namespace, the binding's own ("" for a ClusterRoleBinding). Subjects of
// other kinds, and entries that are not objects, are left out.
func ServiceAccountSubjects(binding map[string]any, namespace string) []Subject {
	subjects, _ := binding["subjects"].([]any)
	var out []Subject
	for i, s := range subjects {
		m, _ := s.(map[string]any)
		if m["kind"] != "ServiceAccount" {
			continue
		}
		name, _ := m["name"].(string)
		ns, _ := m["namespace"].(string)
		if ns == "" {
			ns = namespace
		}
		out = append(out, Subject{Index: i, Key: Key{System: Kubernetes, Kind: "ServiceAccount", Namespace: ns, Name: name}})
	}
	return out
}

// RoleRef returns the key of the role a binding in namespace grants (a Role
// is in the binding's namespace); ok is false when it has no roleRef.
func RoleRef(binding map[string]any, namespace string) (Key, bool) {
	ref, ok := binding["roleRef"].(map[string]any)
	if !ok {
		return Key{}, false
	}
	kind, _ := ref["kind"].(string)
	name, _ := ref["name"].(string)
	ns := ""
	if kind == "Role" {
		ns = namespace
	}
	return Key{System: Kubernetes, Group: rbacGroup, Kind: kind, Namespace: ns, Name: name}, true
}
