// Package inventory records which Prefect work pools and queues a set owns,
// in Prefect Variables on the server itself (prefect-apply keeps no state of
// its own), and whether and in which namespaces the set may own Kubernetes
// objects (those carry their own ownership labels). A variable's value must
// stay under Prefect's limit, so a large inventory is split across numbered
// variables.
package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// Store is what an inventory needs of a Prefect server.
type Store interface {
	ListVariables(ctx context.Context, namePrefix string) ([]prefect.Variable, error)
	SetVariable(ctx context.Context, name string, value any, tags []string) error
	DeleteVariable(ctx context.Context, name string) error
}

// chunkLimit keeps each part's JSON safely under the server's limit.
const chunkLimit = prefect.MaxVariableValueLength - 500

// Tag marks the variables on the server.
const Tag = "prefect-apply"

// Prefix returns the variable name prefix of a set's parts. Set names have
// no '_', so one set's prefix never matches another set's variables.
func Prefix(set string) string { return "prefect-apply_" + set + "_" }

// kubeReserve is the room the first part keeps for the Kubernetes record:
// about 15 namespaces.
const kubeReserve = 500

// version is what parts are written with. Version 1 parts (no Kubernetes
// record) leave unknown where the set's Kubernetes objects are.
const version = 2

// part is the value of one variable.
type part struct {
	Version int         `json:"version"`
	Set     string      `json:"set"`
	Pools   []string    `json:"pools,omitempty"`
	Queues  [][2]string `json:"queues,omitempty"`
	// Kubernetes is in the first part while the set may own objects in a
	// cluster: a prune must then read the cluster even when the file no
	// longer has a kubernetes section.
	Kubernetes *kubeRecord `json:"kubernetes,omitempty"`
}

// kubeRecord says where the set's Kubernetes objects may be.
type kubeRecord struct {
	// Namespaces holds the set's namespaced objects; the set's objects
	// are looked for there (and in the namespaces the file declares), not
	// across the cluster.
	Namespaces []string `json:"namespaces"`
}

// Inventory is the set of keys a set owns.
type Inventory struct {
	Set string
	// Kubernetes: the set may own objects in a cluster (see part), in
	// Namespaces (sorted) and among cluster-scoped kinds.
	Kubernetes bool
	Namespaces []string
	legacy     bool // read from version 1 parts: Namespaces unknown
	keys       map[state.Key]bool
	stored     map[string]string // variable name → value JSON as read
}

// New returns an empty inventory.
func New(set string) *Inventory {
	return &Inventory{Set: set, keys: map[state.Key]bool{}, stored: map[string]string{}}
}

// AllPrefix starts the variable names of every set's inventory.
const AllPrefix = "prefect-apply_"

// Load reads a set's inventory (one list call, paged).
func Load(ctx context.Context, s Store, set string) (*Inventory, error) {
	vars, err := s.ListVariables(ctx, Prefix(set))
	if err != nil {
		return nil, fmt.Errorf("reading the inventory of set %q: %w", set, err)
	}
	inv := New(set)
	for _, v := range vars {
		if name, ok := partSet(v.Name); !ok || name != set {
			continue
		}
		if err := inv.read(v); err != nil {
			return nil, err
		}
	}
	inv.sortNamespaces()
	return inv, nil
}

// All is a set's inventory and every other set's on the same server: a
// pool or queue another set lists is that set's, not to be taken or
// deleted without saying so.
type All struct {
	// Own is the inventory of the set asked for (empty when it owns nothing).
	Own    *Inventory
	others map[string]*Inventory // by set
}

// LoadAll reads the inventory of set and of every other set, in one paged
// listing of the variables named prefect-apply_*: about one request per
// 200 variables, the same as Load when sets are few.
func LoadAll(ctx context.Context, s Store, set string) (*All, error) {
	vars, err := s.ListVariables(ctx, AllPrefix)
	if err != nil {
		return nil, fmt.Errorf("reading the inventories of set %q and the other sets: %w", set, err)
	}
	a := &All{Own: New(set), others: map[string]*Inventory{}}
	for _, v := range vars {
		name, ok := partSet(v.Name)
		if !ok {
			continue
		}
		inv := a.Own
		if name != set {
			if inv = a.others[name]; inv == nil {
				inv = New(name)
				a.others[name] = inv
			}
		}
		if err := inv.read(v); err != nil {
			return nil, err
		}
	}
	a.Own.sortNamespaces()
	for _, inv := range a.others {
		inv.sortNamespaces()
	}
	return a, nil
}

// OwnersOf lists the other sets whose inventory lists k, sorted; a pool's
// default queue is listed with the pool.
func (a *All) OwnersOf(k state.Key) []string {
	var out []string
	for name, inv := range a.others {
		if inv.Owns(k) || k.Kind == state.KindWorkQueue && k.Name == defaultQueue && inv.Owns(state.PoolKey(k.Namespace)) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Other returns another set's inventory, nil when it owns nothing.
func (a *All) Other(set string) *Inventory { return a.others[set] }

// defaultQueue is the queue Prefect creates with every pool; it goes with
// its pool.
const defaultQueue = "default"

// partSet returns the set a variable named prefect-apply_<set>_<n> belongs
// to; false for any other name.
func partSet(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, AllPrefix)
	if !ok {
		return "", false
	}
	i := strings.LastIndex(rest, "_")
	if i <= 0 || strings.Contains(rest[:i], "_") {
		return "", false
	}
	if _, err := strconv.Atoi(rest[i+1:]); err != nil {
		return "", false
	}
	return rest[:i], true
}

// read adds one part, as read from the server.
func (i *Inventory) read(v prefect.Variable) error {
	raw, _ := json.Marshal(v.Value)
	i.stored[v.Name] = string(raw)
	var p part
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("reading the inventory of set %q: variable %q is not an inventory: %w", i.Set, v.Name, err)
	}
	i.legacy = i.legacy || p.Version < version
	if p.Kubernetes != nil {
		i.Kubernetes = true
		i.Namespaces = append(i.Namespaces, p.Kubernetes.Namespaces...)
	}
	for _, name := range p.Pools {
		i.keys[state.PoolKey(name)] = true
	}
	for _, q := range p.Queues {
		i.keys[state.QueueKey(q[0], q[1])] = true
	}
	return nil
}

func (i *Inventory) sortNamespaces() {
	sort.Strings(i.Namespaces)
	i.Namespaces = slices.Compact(i.Namespaces)
}

// NamespacesKnown reports whether the inventory says where the set's
// namespaced Kubernetes objects may be: not when an earlier version wrote
// it, and the whole cluster is to be searched.
func (i *Inventory) NamespacesKnown() bool { return !i.legacy }

// Owns reports whether the set owns a Prefect object.
func (i *Inventory) Owns(k state.Key) bool { return i.keys[k] }

// Len is the number of owned objects.
func (i *Inventory) Len() int { return len(i.keys) }

// Add records keys as owned; non-Prefect keys are ignored.
func (i *Inventory) Add(keys ...state.Key) {
	for _, k := range keys {
		if k.System == state.Prefect {
			i.keys[k] = true
		}
	}
}

// Remove forgets keys; removing a pool forgets its queues too.
func (i *Inventory) Remove(keys ...state.Key) {
	for _, k := range keys {
		delete(i.keys, k)
		if k.Kind == state.KindWorkPool {
			for o := range i.keys {
				if o.Kind == state.KindWorkQueue && o.Namespace == k.Name {
					delete(i.keys, o)
				}
			}
		}
	}
}

// Drop forgets exactly these keys: unlike Remove, a pool's queues stay
// recorded. It is how a set lets go of what another set takes over or
// manages too.
func (i *Inventory) Drop(keys ...state.Key) {
	for _, k := range keys {
		delete(i.keys, k)
	}
}

// Keys returns the owned keys, sorted.
func (i *Inventory) Keys() []state.Key {
	out := make([]state.Key, 0, len(i.keys))
	for k := range i.keys {
		out = append(out, k)
	}
	state.SortKeys(out)
	return out
}

// Save writes the inventory, touching only the parts that changed.
func (i *Inventory) Save(ctx context.Context, s Store) error {
	want := map[string]string{}
	for n, p := range i.parts() {
		raw, err := canonical(p)
		if err != nil {
			return err
		}
		want[Prefix(i.Set)+strconv.Itoa(n)] = raw
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if i.stored[name] == want[name] {
			continue
		}
		var v any
		_ = json.Unmarshal([]byte(want[name]), &v)
		if err := s.SetVariable(ctx, name, v, []string{Tag}); err != nil {
			return fmt.Errorf("writing the inventory of set %q: %w", i.Set, err)
		}
		i.stored[name] = want[name]
	}
	for name := range i.stored {
		if _, ok := want[name]; ok {
			continue
		}
		if err := s.DeleteVariable(ctx, name); err != nil && !prefect.IsNotFound(err) {
			return fmt.Errorf("writing the inventory of set %q: %w", i.Set, err)
		}
		delete(i.stored, name)
	}
	return nil
}

// parts splits the keys into values that each stay under chunkLimit; the
// first carries the Kubernetes mark. An empty inventory is no parts at all.
func (i *Inventory) parts() []part {
	var out []part
	cur := part{Version: version, Set: i.Set}
	// Sizes are counted as Python's json.dumps writes them: ", " and ": "
	// separators, non-ASCII escaped (see jsonLen).
	base := len(fmt.Sprintf(`{"version": 2, "set": %q, "pools": [], "queues": []}`, i.Set))
	size := 0
	flush := func() {
		if len(cur.Pools)+len(cur.Queues) > 0 || cur.Kubernetes != nil {
			out = append(out, cur)
		}
		cur, size = part{Version: version, Set: i.Set}, 0
	}
	// The Kubernetes record comes first, its namespaces split like keys
	// should there be many.
	const record = len(`, "kubernetes": {"namespaces": []}`)
	if i.Kubernetes {
		namespaces := append([]string{}, i.Namespaces...)
		sort.Strings(namespaces)
		cur.Kubernetes, size = &kubeRecord{Namespaces: []string{}}, record
		for _, ns := range slices.Compact(namespaces) {
			n := jsonLen(ns) + len(", ")
			if base+size+n > chunkLimit {
				flush()
				cur.Kubernetes, size = &kubeRecord{Namespaces: []string{}}, record
			}
			cur.Kubernetes.Namespaces = append(cur.Kubernetes.Namespaces, ns)
			size += n
		}
	}
	// The first part keeps room for the record, so that a record that
	// changes within it moves no key to another part.
	if len(out) == 0 {
		size = max(size, kubeReserve)
	}
	for _, k := range i.Keys() {
		n := jsonLen(k.Name) + len(", ")
		if k.Kind == state.KindWorkQueue {
			n += jsonLen(k.Namespace) + len(`[, ]`)
		}
		if base+size+n > chunkLimit {
			flush()
		}
		size += n
		if k.Kind == state.KindWorkPool {
			cur.Pools = append(cur.Pools, k.Name)
		} else {
			cur.Queues = append(cur.Queues, [2]string{k.Namespace, k.Name})
		}
	}
	flush()
	return out
}

// jsonLen bounds the length of a string's JSON as the server measures it
// (Python's json.dumps escapes every non-ASCII character, up to 12 bytes).
func jsonLen(s string) int {
	n := 2
	for _, r := range s {
		switch {
		case r < 0x20 || r == '"' || r == '\\':
			n += 6
		case r < 0x80:
			n++
		default:
			n += 12
		}
	}
	return n
}

// canonical renders a value as the server's JSON would be re-encoded here
// (object keys sorted), so that a part read back compares equal to the same
// part about to be written.
func canonical(v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return "", err
	}
	out, err := json.Marshal(generic)
	return string(out), err
}
