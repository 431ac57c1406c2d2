// Package state holds the model shared by the readers (Prefect and Kubernetes
// clients), the planner and the applier: identity keys, the table of the
// Kubernetes kinds prefect-apply manages (Kinds) and plain-data objects.
// Nothing in this package talks to a server.
package state

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// System names the server an object lives on.
type System string

const (
	Prefect    System = "prefect"
	Kubernetes System = "kubernetes"
)

// Ownership labels on every Kubernetes object prefect-apply applies: an
// object is a set's when it carries both.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "prefect-apply"
	SetLabel       = "prefect-apply.io/set"
)

// Kinds of Prefect objects.
const (
	KindWorkPool  = "WorkPool"
	KindWorkQueue = "WorkQueue"
)

// Key identifies one object across both systems. For Prefect objects,
// Namespace holds the work pool's name of a queue (empty for pools). For
// Kubernetes objects, Group is the API group ("" for core) and Namespace is
// empty for cluster-scoped kinds.
type Key struct {
	System    System `json:"system"`
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// PoolKey is the key of a work pool.
func PoolKey(name string) Key { return Key{System: Prefect, Kind: KindWorkPool, Name: name} }

// QueueKey is the key of a work queue in a pool.
func QueueKey(pool, name string) Key {
	return Key{System: Prefect, Kind: KindWorkQueue, Namespace: pool, Name: name}
}

// String renders the key the way users read it: WorkPool "gpu",
// WorkQueue "gpu/default", ClusterRole "prefect-worker-role",
// ServiceAccount "prefect/prefect-worker".
func (k Key) String() string {
	if k.Namespace == "" {
		return fmt.Sprintf("%s %q", k.Kind, k.Name)
	}
	return fmt.Sprintf("%s %q", k.Kind, k.Namespace+"/"+k.Name)
}

// Less orders keys: system, kind, group, namespace, name.
func (k Key) Less(o Key) bool {
	if k.System != o.System {
		return k.System < o.System
	}
	if k.Kind != o.Kind {
		return k.Kind < o.Kind
	}
	if k.Group != o.Group {
		return k.Group < o.Group
	}
	if k.Namespace != o.Namespace {
		return k.Namespace < o.Namespace
	}
	return k.Name < o.Name
}

// SortKeys sorts keys in place with Less.
func SortKeys(keys []Key) { sort.Slice(keys, func(i, j int) bool { return keys[i].Less(keys[j]) }) }

// Pool is a Prefect work pool, as declared or as read. Pointer fields are
// "not managed" when nil in a desired pool; a live pool always sets what the
// server returned.
type Pool struct {
	Name             string         `json:"name"`
	Type             string         `json:"type"`
	Description      *string        `json:"description,omitempty"`
	Paused           *bool          `json:"paused,omitempty"`
	ConcurrencyLimit *int           `json:"concurrencyLimit,omitempty"`
	BaseJobTemplate  map[string]any `json:"baseJobTemplate,omitempty"`

	// Requires lists the Kubernetes objects the pool's jobs use (namespace,
	// service account, Secrets, PVCs); desired only.
	Requires []Key `json:"-"`

	// Server-set, live only.
	ID      string `json:"id,omitempty"`
	Updated string `json:"updated,omitempty"`
	Status  string `json:"status,omitempty"`
}

// Queue is a Prefect work queue of a pool. ConcurrencyLimit, Description,
// Paused and Priority are "not managed" when nil in a desired queue.
type Queue struct {
	Pool             string  `json:"pool"`
	Name             string  `json:"name"`
	Description      *string `json:"description,omitempty"`
	Priority         *int    `json:"priority,omitempty"`
	ConcurrencyLimit *int    `json:"concurrencyLimit,omitempty"`
	Paused           *bool   `json:"paused,omitempty"`

	// Server-set, live only.
	ID      string `json:"id,omitempty"`
	Updated string `json:"updated,omitempty"`
}

// State is everything one side (desired or live) knows, keyed by identity.
type State struct {
	Pools   map[string]*Pool                   `json:"pools,omitempty"`
	Queues  map[Key]*Queue                     `json:"-"`
	Objects map[Key]*unstructured.Unstructured `json:"-"`
	// SecretData holds desired Secret values by Secret key, read at sync
	// time from the environment or files; never rendered.
	SecretData map[Key]map[string][]byte `json:"-"`
}

// New returns an empty State.
func New() *State {
	return &State{
		Pools:      map[string]*Pool{},
		Queues:     map[Key]*Queue{},
		Objects:    map[Key]*unstructured.Unstructured{},
		SecretData: map[Key]map[string][]byte{},
	}
}

// AddPool stores a pool.
func (s *State) AddPool(p *Pool) { s.Pools[p.Name] = p }

// AddQueue stores a queue.
func (s *State) AddQueue(q *Queue) { s.Queues[QueueKey(q.Pool, q.Name)] = q }

// QueuesByPool groups the queues by pool, each pool's sorted by name. It
// goes through all queues: a caller that looks at many pools makes it once.
func (s *State) QueuesByPool() map[string][]*Queue {
	out := map[string][]*Queue{}
	for _, q := range s.Queues {
		out[q.Pool] = append(out[q.Pool], q)
	}
	for _, qs := range out {
		sort.Slice(qs, func(i, j int) bool { return qs[i].Name < qs[j].Name })
	}
	return out
}

// ObjectKey is the identity of a Kubernetes object.
func ObjectKey(o *unstructured.Unstructured) Key {
	gvk := o.GroupVersionKind()
	return Key{System: Kubernetes, Group: gvk.Group, Kind: gvk.Kind, Namespace: o.GetNamespace(), Name: o.GetName()}
}

// OwnedBy reports whether a Kubernetes object carries both ownership labels
// of set.
func OwnedBy(o *unstructured.Unstructured, set string) bool {
	l := o.GetLabels()
	return l[ManagedByLabel] == ManagedByValue && l[SetLabel] == set
}

// HeldBy names the finalizers an object waits on, for messages:
// " (finalizers: a, b)", or "" when there are none.
func HeldBy(o *unstructured.Unstructured) string {
	if f := o.GetFinalizers(); len(f) > 0 {
		return " (finalizers: " + strings.Join(f, ", ") + ")"
	}
	return ""
}

// Immutable says why the server refuses to change an existing object in
// place: the fields, as the server names them ("type", "roleRef"), and its
// messages. Such an object is replaced (deleted and created again).
type Immutable struct {
	Fields   []string
	Messages []string
}

// Conflict names the fields of a Kubernetes object that another field
// manager owns with values other than the file's: server-side apply
// refuses to change them until --force-conflicts takes them over. Fields
// are the server's paths without the leading dot ("subjects",
// "data.auth-string"); never values.
type Conflict struct {
	Manager string   `json:"manager"`
	Fields  []string `json:"fields"`
}

// DescribeConflicts says who owns what, for messages:
// `field manager "kubectl-edit" owns subjects; field manager "x" owns a, b`.
func DescribeConflicts(cs []Conflict) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("field manager %q owns %s", c.Manager, strings.Join(c.Fields, ", ")))
	}
	return strings.Join(parts, "; ")
}

// ConflictFields counts the fields of conflicts.
func ConflictFields(cs []Conflict) int {
	n := 0
	for _, c := range cs {
		n += len(c.Fields)
	}
	return n
}
