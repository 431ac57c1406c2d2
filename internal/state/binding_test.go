package state

import (
	"fmt"
	"testing"
)

func TestServiceAccountSubjects(t *testing.T) {
	binding := map[string]any{
		"roleRef": map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
		"subjects": []any{
			map[string]any{"kind": "User", "name": "alice"},
			map[string]any{"kind": "ServiceAccount", "name": "sa1"},
			"not an object",
			map[string]any{"kind": "ServiceAccount", "name": "sa2", "namespace": "other"},
			map[string]any{"kind": "ServiceAccount", "name": 42},
		},
	}
	got := ServiceAccountSubjects(binding, "ns")
	want := `[{1 ServiceAccount "ns/sa1"} {3 ServiceAccount "other/sa2"} {4 ServiceAccount "ns/"}]`
	if fmt.Sprint(got) != want {
		t.Errorf("subjects: %v, want %v", got, want)
	}
	// A ClusterRoleBinding's subject without a namespace has none.
	if got := ServiceAccountSubjects(binding, ""); got[0].Key.Namespace != "" {
		t.Errorf("cluster-wide: %v", got)
	}
	if got := ServiceAccountSubjects(map[string]any{"subjects": "x"}, "ns"); got != nil {
		t.Errorf("subjects that are no list: %v", got)
	}
}

func TestRoleRef(t *testing.T) {
	for name, tc := range map[string]struct {
		ref  any
		want string
		ok   bool
	}{
		"role in the binding's namespace": {map[string]any{"kind": "Role", "name": "r"}, `Role "ns/r"`, true},
		"cluster role":                    {map[string]any{"kind": "ClusterRole", "name": "c"}, `ClusterRole "c"`, true},
		"no roleRef":                      {nil, "", false},
		"roleRef not an object":           {"r", "", false},
	} {
		t.Run(name, func(t *testing.T) {
			b := map[string]any{}
			if tc.ref != nil {
				b["roleRef"] = tc.ref
			}
			got, ok := RoleRef(b, "ns")
			if ok != tc.ok || (ok && (got.String() != tc.want || got.Group != "rbac.authorization.k8s.io")) {
				t.Errorf("RoleRef = %v %v, want %s %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
