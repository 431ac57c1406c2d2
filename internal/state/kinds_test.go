package state

import (
	"strings"
	"testing"
)

// The table is consistent: one row per kind, every column set, rows in
// apply order, and the Prefect kinds after all of them.
func TestKindsTable(t *testing.T) {
	seen := map[string]bool{}
	prev := 0
	for _, k := range Kinds {
		if seen[k.Kind] {
			t.Errorf("%s: listed twice (kinds are looked up by name alone)", k.Kind)
		}
		seen[k.Kind] = true
		if k.Kind == "" || k.Version == "" || k.Resource == "" {
			t.Errorf("%+v: kind, version and resource must be set", k)
		}
		if k.Resource != strings.ToLower(k.Resource) || !strings.HasSuffix(k.Resource, "s") {
			t.Errorf("%s: resource %q is not a lower-case plural", k.Kind, k.Resource)
		}
		if k.Rank < prev {
			t.Errorf("%s: rank %d after rank %d; list the rows in apply order", k.Kind, k.Rank, prev)
		}
		prev = k.Rank
		if Rank(k.Kind) != k.Rank || Rank(KindWorkPool) <= k.Rank {
			t.Errorf("%s: Rank %d, pools' %d", k.Kind, Rank(k.Kind), Rank(KindWorkPool))
		}
		if got, ok := LookupKind(k.Kind, k.Group); !ok || got != k {
			t.Errorf("LookupKind(%q, %q) = %+v, %v", k.Kind, k.Group, got, ok)
		}
	}
	if Rank(KindWorkQueue) <= Rank(KindWorkPool) {
		t.Errorf("queues rank %d, pools %d", Rank(KindWorkQueue), Rank(KindWorkPool))
	}
}

func TestLookups(t *testing.T) {
	for kind, want := range map[string]bool{"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true, "Role": false, "Secret": false, "Deployment": false, "": false} {
		if got := IsClusterScoped(kind); got != want {
			t.Errorf("IsClusterScoped(%q) = %v", kind, got)
		}
	}
	if k, ok := LookupKind("Role", "rbac.authorization.k8s.io"); !ok || k.APIVersion() != "rbac.authorization.k8s.io/v1" || k.Resource != "roles" {
		t.Errorf("Role: %+v %v", k, ok)
	}
	if k, ok := LookupKind("Secret", ""); !ok || k.APIVersion() != "v1" || k.Manifest || !k.External {
		t.Errorf("Secret: %+v %v", k, ok)
	}
	// A kind in the wrong group is not the managed one.
	if _, ok := LookupKind("Role", ""); ok {
		t.Error("Role in the core group was found")
	}
	_, err := ManagedKind(Key{System: Kubernetes, Group: "apps", Kind: "Deployment", Namespace: "ns", Name: "d"})
	if err == nil || !strings.Contains(err.Error(), `Deployment "ns/d": kind Deployment (apps) is not one prefect-apply manages (`+strings.Join(KindNames(nil), ", ")+")") {
		t.Errorf("ManagedKind of an unmanaged kind: %v", err)
	}
	if got := strings.Join(KindNames(func(k KindInfo) bool { return !k.Manifest }), ","); got != "Secret" {
		t.Errorf("kinds not declared as manifests: %s", got)
	}
}

// Kinds sort by rank, then as the table lists them; a kind the table
// lacks comes first.
func TestLessKind(t *testing.T) {
	kinds := []string{KindWorkQueue, "ConfigMap", KindWorkPool, "Secret", "ClusterRole", "Role", "Namespace", "Unknown"}
	for i := range kinds {
		for j := range kinds {
			if LessKind(kinds[i], kinds[j]) && LessKind(kinds[j], kinds[i]) {
				t.Errorf("%s and %s are both less than the other", kinds[i], kinds[j])
			}
		}
	}
	want := []string{"Unknown", "Namespace", "Role", "ClusterRole", "Secret", "ConfigMap", KindWorkPool, KindWorkQueue}
	for i := 0; i+1 < len(want); i++ {
		if !LessKind(want[i], want[i+1]) {
			t.Errorf("%s is not before %s", want[i], want[i+1])
		}
	}
}
