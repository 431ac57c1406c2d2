package state

import (
	"fmt"
	"strings"
)

// Scope says whether the objects of a kind live in a namespace.
type Scope int

const (
	Namespaced Scope = iota
	ClusterScoped
)

// KindInfo describes one Kubernetes kind prefect-apply manages.
type KindInfo struct {
	Kind     string // e.g. ServiceAccount
	Group    string // API group, "" for the core group
	Version  string // API version within the group
	Resource string // the plural resource name in the API's URLs
	Scope    Scope
	// Rank is the kind's level in the order sync applies changes (lower
	// first; deletions in reverse). Kinds of one rank do not depend on
	// each other.
	Rank int
	// Manifest: kubernetes.resources declares objects of the kind as
	// manifests. Secrets go under kubernetes.secrets instead, so that
	// their values never sit in the file.
	Manifest bool
	// External: job templates may refer to objects of the kind, so
	// kubernetes.external may list them.
	External bool
}

// APIVersion is the kind's apiVersion: "v1" or "group/version".
func (k KindInfo) APIVersion() string {
	if k.Group == "" {
		return k.Version
	}
	return k.Group + "/" + k.Version
}

// Kinds are the Kubernetes kinds prefect-apply manages, in the order sync
// applies them. Everything that reads, writes, orders, checks or documents
// a kind reads this table: adding a kind is adding a row (and running
// `make generate` for the schema and docs/kinds.md). Quotas and limit
// ranges come right after their namespace, so that they are in force
// before the objects they count (service accounts, Secrets, ConfigMaps,
// PersistentVolumeClaims) and the flow-run pods they constrain are created.
var Kinds = []KindInfo{
	{Kind: "Namespace", Version: "v1", Resource: "namespaces", Scope: ClusterScoped, Rank: 0, Manifest: true, External: true},
	{Kind: "ResourceQuota", Version: "v1", Resource: "resourcequotas", Rank: 1, Manifest: true},
	{Kind: "LimitRange", Version: "v1", Resource: "limitranges", Rank: 1, Manifest: true},
	{Kind: "ServiceAccount", Version: "v1", Resource: "serviceaccounts", Rank: 2, Manifest: true, External: true},
	{Kind: "Role", Group: rbacGroup, Version: "v1", Resource: "roles", Rank: 3, Manifest: true},
	{Kind: "ClusterRole", Group: rbacGroup, Version: "v1", Resource: "clusterroles", Scope: ClusterScoped, Rank: 3, Manifest: true},
	{Kind: "RoleBinding", Group: rbacGroup, Version: "v1", Resource: "rolebindings", Rank: 4, Manifest: true},
	{Kind: "ClusterRoleBinding", Group: rbacGroup, Version: "v1", Resource: "clusterrolebindings", Scope: ClusterScoped, Rank: 4, Manifest: true},
	{Kind: "Secret", Version: "v1", Resource: "secrets", Rank: 5, External: true},
	{Kind: "PersistentVolumeClaim", Version: "v1", Resource: "persistentvolumeclaims", Rank: 5, Manifest: true, External: true},
	{Kind: "ConfigMap", Version: "v1", Resource: "configmaps", Rank: 5, Manifest: true, External: true},
}

const rbacGroup = "rbac.authorization.k8s.io"

// LookupKind returns the row of a kind in an API group; ok is false when
// prefect-apply does not manage it.
func LookupKind(kind, group string) (KindInfo, bool) {
	for _, k := range Kinds {
		if k.Kind == kind && k.Group == group {
			return k, true
		}
	}
	return KindInfo{}, false
}

// KindNamed returns the row of a kind by its name alone, as the file
// names kinds (the schema ties each kind to its apiVersion).
func KindNamed(kind string) (KindInfo, bool) {
	for _, k := range Kinds {
		if k.Kind == kind {
			return k, true
		}
	}
	return KindInfo{}, false
}

// IsClusterScoped reports whether a managed kind has no namespace; false
// for a kind prefect-apply does not manage.
func IsClusterScoped(kind string) bool {
	k, ok := KindNamed(kind)
	return ok && k.Scope == ClusterScoped
}

// ManagedKind returns the row of a key's kind, or an error naming the
// kinds prefect-apply manages.
func ManagedKind(key Key) (KindInfo, error) {
	if k, ok := LookupKind(key.Kind, key.Group); ok {
		return k, nil
	}
	kind := key.Kind
	if key.Group != "" {
		kind += " (" + key.Group + ")"
	}
	return KindInfo{}, fmt.Errorf("%s: kind %s is not one prefect-apply manages (%s)", key, kind, strings.Join(KindNames(nil), ", "))
}

// KindNames lists the managed kinds that keep returns true for (all when
// keep is nil), in apply order.
func KindNames(keep func(KindInfo) bool) []string {
	var out []string
	for _, k := range Kinds {
		if keep == nil || keep(k) {
			out = append(out, k.Kind)
		}
	}
	return out
}

// The Prefect kinds come after every Kubernetes kind: pools need the
// objects their jobs use, queues need their pool.
var (
	poolRank  = lastKubeRank() + 1
	queueRank = poolRank + 1
)

func lastKubeRank() int {
	last := 0
	for _, k := range Kinds {
		last = max(last, k.Rank)
	}
	return last
}

// Rank is a kind's level in the order sync applies changes: the
// Kubernetes kinds by the table, then work pools, then work queues. Kinds
// of one rank do not depend on each other; deletions run in reverse. A
// kind prefect-apply does not manage ranks first.
func Rank(kind string) int {
	switch kind {
	case KindWorkPool:
		return poolRank
	case KindWorkQueue:
		return queueRank
	}
	k, _ := KindNamed(kind)
	return k.Rank
}

// LessKind orders kinds as sync applies them, and kinds of one rank as
// the table lists them; unmanaged kinds come first, by name.
func LessKind(a, b string) bool {
	if ra, rb := Rank(a), Rank(b); ra != rb {
		return ra < rb
	}
	ia, ib := kindIndex(a), kindIndex(b)
	if ia != ib {
		return ia < ib
	}
	return a < b
}

func kindIndex(kind string) int {
	for i, k := range Kinds {
		if k.Kind == kind {
			return i
		}
	}
	return -1
}
