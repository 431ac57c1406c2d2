package plan

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/jobtemplate"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// DefaultQueue is the queue Prefect creates with every pool. It is never
// deleted; declaring it manages its settings.
const DefaultQueue = "default"

// defaultQueueDescription is the description the server gives the default
// queue it creates with a pool (a variable, to be pointed to).
var defaultQueueDescription = "The work pool's default queue."

// Options tune Compute.
type Options struct {
	// Set names the ownership set the file manages.
	Set string
	// Prune turns managed objects that left the file into deletions;
	// without it they are reported as orphans.
	Prune bool
	// Owned reports whether a live object is recorded as owned by the set.
	// Nil means nothing is owned.
	Owned func(state.Key) bool
	// Predicted holds, for declared Kubernetes objects that exist, what the
	// server would store (a server-side apply dry run); they are compared
	// with the live objects instead of the bare manifests.
	Predicted map[state.Key]*unstructured.Unstructured
	// Immutable holds the declared Kubernetes objects that exist and that
	// the server refuses to change in place; they are replaced.
	Immutable map[state.Key]state.Immutable
	// Adopt takes over declared objects that exist but the set does not
	// own, without recreating them. Without it they are Unmanaged: reported
	// with their differences, never written.
	Adopt bool
	// Conflicts holds, for declared Kubernetes objects that exist, the
	// fields other field managers own with values other than the file's
	// (the dry run without forcing); Predicted then holds the forced
	// outcome. ForceConflicts says sync will take them over
	// (--force-conflicts); without it, applying such an object fails.
	Conflicts      map[state.Key][]state.Conflict
	ForceConflicts bool
	// Refused holds the declared Kubernetes objects, existing or new, that
	// the server refused in a dry run (invalid), with its reason: their
	// changes carry it as their Problem.
	Refused map[state.Key]string
	// InUse names the Kubernetes objects the file uses without declaring
	// them (listed under kubernetes.external, or used by a pool's jobs),
	// each with why. The set may own one (it declared it before): it is
	// then kept, even with --prune, and so is a namespace a declared
	// object is in. Keys match without their Group.
	InUse map[state.Key]string
	// Owners lists the other sets whose inventory lists a Prefect object
	// (a pool's default queue with its pool), sorted; nil means none. Such
	// an object is shown as theirs, --adopt moves it to this set, and
	// --prune never deletes it. (Kubernetes objects name their set in
	// their labels.)
	Owners func(state.Key) []string
}

// Compute returns the changes that make live match desired.
func Compute(desired, live *state.State, opts Options) (*Plan, error) {
	if desired == nil || live == nil {
		return nil, fmt.Errorf("computing plan: missing desired or live state")
	}
	owned := opts.Owned
	if owned == nil {
		owned = func(state.Key) bool { return false }
	}
	// A pool's default queue comes with the pool: the set that owns the
	// pool owns it.
	recorded := owned
	owned = func(k state.Key) bool {
		return recorded(k) || k.Kind == state.KindWorkQueue && k.Name == DefaultQueue && recorded(state.PoolKey(k.Namespace))
	}
	c := &computer{desired: desired, live: live, liveQueues: live.QueuesByPool(), opts: opts, owned: owned,
		replaced: map[string]bool{}, kept: map[string]bool{}}
	c.objects()
	c.pools()
	c.queues()
	p := &Plan{Version: FormatVersion, Set: opts.Set, Changes: c.changes, ForceConflicts: opts.ForceConflicts}
	order(p.Changes)
	c.settlePriorities(p.Changes)
	c.dependencies(p.Changes)
	return p, nil
}

type computer struct {
	desired, live *state.State
	liveQueues    map[string][]*state.Queue // live queues by pool, by name
	opts          Options
	owned         func(state.Key) bool
	changes       []Change
	replaced      map[string]bool // pools deleted and created again
	created       map[string]bool
	// kept holds the owned pools that left the file but stay: held by
	// queues of others, or managed by other sets too.
	kept map[string]bool
}

func (c *computer) add(ch Change) { c.changes = append(c.changes, ch) }

// others names the other sets that manage a live object: those whose
// inventory lists a pool or queue, the set a Kubernetes object is
// labelled with.
func (c *computer) others(key state.Key) []string {
	if key.System == state.Kubernetes {
		if l, ok := c.live.Objects[key]; ok {
			if o := otherSet(l); o != "" && o != c.opts.Set {
				return []string{o}
			}
		}
		return nil
	}
	if c.opts.Owners == nil {
		return nil
	}
	var out []string
	for _, o := range c.opts.Owners(key) {
		if o != c.opts.Set {
			out = append(out, o)
		}
	}
	return out
}

// claim notes, on the change of a declared object that exists and that the
// set owns or adopts, the other sets that manage it too: with --adopt,
// applying takes it from them (Take); without, the plan shows it.
func (c *computer) claim(ch Change) Change {
	ch.OtherSets = c.others(ch.Key)
	ch.Take = c.opts.Adopt && len(ch.OtherSets) > 0
	return ch
}

// takenFromStale notes, on the creation of a pool or queue, the other sets whose
// inventory lists it although it does not exist (it was deleted by hand
// after they recorded it): their record is stale, and applying takes it,
// with or without --adopt, so that the set that creates it alone manages
// it.
func (c *computer) takenFromStale(ch Change) Change {
	ch.OtherSets = c.others(ch.Key)
	ch.Take = len(ch.OtherSets) > 0
	return ch
}

// leftover reports a live object that is no longer declared.
func (c *computer) leftover(key state.Key, fingerprint string) {
	if !c.owned(key) {
		return
	}
	if others := c.others(key); len(others) > 0 {
		// Another set's inventory lists it too (written before ownership
		// was exclusive): deleting it would delete what that set
		// declares. The set lets go of it instead.
		then := "--prune drops it from"
		if c.opts.Prune {
			then = "applying drops it from"
		}
		c.add(Change{Key: key, Action: Orphan, Fingerprint: fingerprint, Kept: true, OtherSets: others, Release: c.opts.Prune,
			Reason: fmt.Sprintf("kept, even with --prune: %s manages it too; %s set %q's inventory and leaves it to %s",
				SetNames(others), then, c.opts.Set, SetNames(others))})
		return
	}
	if c.opts.Prune {
		c.add(Change{Key: key, Action: Delete, Fingerprint: fingerprint, Reason: deleteReason(key)})
		return
	}
	c.add(Change{Key: key, Action: Orphan, Fingerprint: fingerprint,
		Reason: "kept: --prune deletes it"})
}

func (c *computer) pools() {
	c.created = map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(c.desired.Pools)) {
		d := c.desired.Pools[name]
		key := state.PoolKey(name)
		l, ok := c.live.Pools[name]
		if !ok {
			c.created[name] = true
			c.add(c.takenFromStale(Change{Key: key, Action: Create, Pool: d, Fields: poolFields(d), Job: jobtemplate.EffectiveJob(d.BaseJobTemplate)}))
			continue
		}
		unowned := !c.owned(key)
		if d.Type != l.Type {
			fields := []FieldChange{{Path: "type", Old: l.Type, New: d.Type, HasOld: true, HasNew: true}}
			if unowned && !c.opts.Adopt {
				c.add(c.unmanaged(Change{Key: key, Pool: d, Fields: fields, Fingerprint: l.Updated}, c.others(key)))
				continue
			}
			c.replaced[name] = true
			c.add(c.claim(Change{Key: key, Action: Replace, Pool: d, Unowned: unowned, Fingerprint: l.Updated, Fields: fields, Job: jobtemplate.EffectiveJob(d.BaseJobTemplate),
				Reason: fmt.Sprintf("the type of a work pool cannot change (%s → %s): the pool is deleted and created again, with its queues", l.Type, d.Type)}))
			continue
		}
		fields, updates := diffPool(d, l)
		if unowned && !c.opts.Adopt {
			c.add(c.unmanaged(Change{Key: key, Pool: d, Fields: fields, Fingerprint: l.Updated}, c.others(key)))
			continue
		}
		action := Update
		if len(fields) == 0 {
			action = NoOp
		}
		c.add(c.claim(Change{Key: key, Action: action, Pool: d, Fields: fields, Updates: updates, Unowned: unowned, Fingerprint: l.Updated}))
	}
	for _, name := range slices.Sorted(maps.Keys(c.live.Pools)) {
		if _, ok := c.desired.Pools[name]; ok {
			continue
		}
		key := state.PoolKey(name)
		if c.owned(key) && len(c.others(key)) > 0 {
			// Other sets manage it too: kept (see leftover), and the
			// set's own queues in it are planned one by one.
			c.kept[name] = true
		} else if held := c.heldQueues(name); held != "" && c.owned(key) {
			// Deleting the pool would delete queues the set does not own.
			c.kept[name] = true
			c.add(Change{Key: key, Action: Orphan, Fingerprint: c.live.Pools[name].Updated, Kept: true,
				Reason: "kept, even with --prune: it holds " + held + ", which deleting the pool would delete"})
			continue
		}
		c.leftover(key, c.live.Pools[name].Updated)
	}
}

// heldQueues describes the queues of a live pool that the set does not
// own (its default queue aside) or that other sets' inventories list too;
// "" when there are none.
func (c *computer) heldQueues(pool string) string {
	var foreign, shared []string
	for _, q := range c.liveQueues[pool] {
		key := state.QueueKey(pool, q.Name)
		if others := c.others(key); len(others) > 0 {
			shared = append(shared, fmt.Sprintf("%q (%s)", q.Name, SetNames(others)))
		} else if q.Name != DefaultQueue && !c.owned(key) {
			foreign = append(foreign, fmt.Sprintf("%q", q.Name))
		}
	}
	var parts []string
	if len(foreign) > 0 {
		parts = append(parts, fmt.Sprintf("queues set %q does not own (%s)", c.opts.Set, strings.Join(foreign, ", ")))
	}
	if len(shared) > 0 {
		parts = append(parts, fmt.Sprintf("queues other sets' inventories list (%s)", strings.Join(shared, ", ")))
	}
	return strings.Join(parts, " and ")
}

func (c *computer) queues() {
	for _, key := range sortedQueues(c.desired) {
		d := c.desired.Queues[key]
		l, ok := c.live.Queues[key]
		fresh := c.created[d.Pool] || c.replaced[d.Pool]
		switch {
		case fresh && d.Name == DefaultQueue:
			// The server creates it with the pool; applying sets its fields.
			fields, updates := diffQueue(d, &state.Queue{Pool: d.Pool, Name: d.Name, Priority: intPtr(1),
				Description: &defaultQueueDescription, Paused: new(bool)})
			c.add(c.takenFromStale(Change{Key: key, Action: Create, Queue: d, Fields: fields, Updates: updates, Implicit: true}))
		case !fresh && !ok && c.live.Pools[d.Pool] != nil && !c.owned(state.PoolKey(d.Pool)) && !c.opts.Adopt:
			// A queue inside a pool the set leaves alone is not created
			// either: the pool's owner decides what runs in it.
			c.add(Change{Key: key, Action: Unmanaged, Queue: d, Fields: queueFields(d), Unowned: true,
				Reason: fmt.Sprintf("not created: its work pool %q is %s; --adopt takes the pool over and creates it", d.Pool, c.managedBy(c.others(state.PoolKey(d.Pool))))})
		case fresh || !ok:
			c.add(c.takenFromStale(Change{Key: key, Action: Create, Queue: d, Fields: queueFields(d)}))
		case !c.owned(key) && !c.opts.Adopt:
			fields, _ := diffQueue(d, l)
			c.add(c.unmanaged(Change{Key: key, Queue: d, Fields: fields, Fingerprint: l.Updated}, c.others(key)))
		default:
			fields, updates := diffQueue(d, l)
			action := Update
			if len(fields) == 0 {
				action = NoOp
			}
			c.add(c.claim(Change{Key: key, Action: action, Queue: d, Fields: fields, Updates: updates, Unowned: !c.owned(key), Fingerprint: l.Updated}))
		}
	}
	for _, key := range sortedQueues(c.live) {
		l := c.live.Queues[key]
		if _, ok := c.desired.Queues[key]; ok || l.Name == DefaultQueue {
			continue
		}
		_, poolDeclared := c.desired.Pools[l.Pool]
		if c.replaced[l.Pool] || !poolDeclared && c.owned(state.PoolKey(l.Pool)) && !c.kept[l.Pool] {
			continue // goes with its pool
		}
		c.leftover(key, l.Updated)
	}
}

func (c *computer) objects() {
	keys := make([]state.Key, 0, len(c.desired.Objects))
	for k := range c.desired.Objects {
		keys = append(keys, k)
	}
	state.SortKeys(keys)
	for _, key := range keys {
		d := c.desired.Objects[key]
		l, ok := c.live.Objects[key]
		if !ok {
			fields := objectFields(key, d)
			for _, k := range slices.Sorted(maps.Keys(c.desired.SecretData[key])) {
				fields = append(fields, FieldChange{Path: join("data", k), New: Masked, HasNew: true, Sensitive: true})
			}
			c.add(Change{Key: key, Action: Create, Object: d, Fields: fields, Problem: c.opts.Refused[key]})
			continue
		}
		if reason, ok := c.opts.Refused[key]; ok {
			// Nothing predicted: the file's object against the live one
			// would show the server's defaults as removals. The reason
			// is the change.
			ch := Change{Key: key, Action: Update, Object: d, Problem: reason, Fingerprint: l.GetResourceVersion(), Unowned: !c.owned(key)}
			if ch.Unowned && !c.opts.Adopt {
				ch = c.unmanaged(ch, c.others(key))
			}
			c.add(ch)
			continue
		}
		want := d
		if p, ok := c.opts.Predicted[key]; ok {
			want = p
		}
		if l.GetDeletionTimestamp() != nil {
			c.recreate(key, d, want, l)
			continue
		}
		if im, ok := c.opts.Immutable[key]; ok {
			c.replaceObject(key, d, l, im)
			continue
		}
		if !c.owned(key) && !c.opts.Adopt {
			// The ownership labels are what adopting adds; the rest is
			// what differs.
			fields := diffObjects(key, withoutOwnership(want), withoutOwnership(l))
			c.add(c.unmanaged(Change{Key: key, Object: d, Fields: fields, Fingerprint: l.GetResourceVersion()}, c.others(key)))
			continue
		}
		fields := diffObjects(key, want, l)
		conflicts := c.opts.Conflicts[key]
		action := Update
		if len(fields) == 0 && len(conflicts) == 0 {
			action = NoOp
		}
		c.add(c.claim(Change{Key: key, Action: action, Object: d, Fields: fields, Conflicts: conflicts, Fingerprint: l.GetResourceVersion(), Unowned: !c.owned(key)}))
	}
	var gone []state.Key
	for k := range c.live.Objects {
		if _, ok := c.desired.Objects[k]; !ok {
			gone = append(gone, k)
		}
	}
	state.SortKeys(gone)
	inUse := c.inUse(keys)
	for _, k := range gone {
		l := c.live.Objects[k]
		if l.GetDeletionTimestamp() != nil {
			// Deleted already, waiting for its finalizers (a Namespace
			// emptying itself, a PersistentVolumeClaim still mounted):
			// there is nothing left to do.
			continue
		}
		if why, ok := inUse[groupless(k)]; ok && c.owned(k) {
			c.add(Change{Key: k, Action: Orphan, Fingerprint: l.GetResourceVersion(), Kept: true,
				Reason: "kept, even with --prune: " + why})
			continue
		}
		c.leftover(k, l.GetResourceVersion())
	}
}

// inUse is Options.InUse, plus the namespaces of the declared objects
// (keys, sorted): deleting one would delete them.
func (c *computer) inUse(declared []state.Key) map[state.Key]string {
	out := map[state.Key]string{}
	for k, why := range c.opts.InUse {
		out[groupless(k)] = why
	}
	for _, k := range declared {
		if k.Namespace == "" {
			continue
		}
		ns := state.Key{System: state.Kubernetes, Kind: "Namespace", Name: k.Namespace}
		if _, ok := out[ns]; !ok {
			out[ns] = fmt.Sprintf("%s, which the file declares, is in it; deleting the namespace would delete it", k)
		}
	}
	return out
}

func groupless(k state.Key) state.Key {
	k.Group = ""
	return k
}

// deleteReason says what deleting an object takes with it, when that is
// more than the object.
func deleteReason(key state.Key) string {
	if key.System == state.Kubernetes && key.Kind == "Namespace" && key.Group == "" {
		return "deletes everything in the namespace with it, objects of other owners included"
	}
	return ""
}

// replaceObject plans a Kubernetes object whose changed fields the server
// will not change in place: deleted and created again (with
// --allow-replace), or left alone when the set does not own it.
func (c *computer) replaceObject(key state.Key, d, l *unstructured.Unstructured, im state.Immutable) {
	var fields []FieldChange
	for _, f := range im.Fields {
		path := strings.Split(f, ".")
		old, hasOld, _ := unstructured.NestedFieldNoCopy(l.Object, path...)
		new, hasNew, _ := unstructured.NestedFieldNoCopy(d.Object, path...)
		diffValues(f, normalize(old), normalize(new), hasOld, hasNew, &fields)
	}
	c.replace(Change{Key: key, Object: d, Fields: mask(key, fields),
		Reason: fmt.Sprintf("the server does not change this in place (%s): the object is deleted and created again", strings.Join(im.Messages, "; "))}, l)
}

// recreate plans a declared object that is being deleted, its finalizers
// not done yet: applying to it would only patch what is going away, so it
// is replaced, which waits until it is gone and creates it again.
func (c *computer) recreate(key state.Key, d, want, l *unstructured.Unstructured) {
	c.replace(Change{Key: key, Object: d, Fields: diffObjects(key, want, l), Terminating: true,
		Reason: "it is being deleted" + state.HeldBy(l) + ": it is created again once it is gone"}, l)
}

// replace adds the replace of the declared object live l, or, when the set
// neither owns it nor adopts it, reports it unmanaged.
func (c *computer) replace(ch Change, l *unstructured.Unstructured) {
	ch.Fingerprint, ch.Unowned = l.GetResourceVersion(), !c.owned(ch.Key)
	if ch.Unowned && !c.opts.Adopt {
		ch.Terminating = false
		c.add(c.unmanaged(ch, c.others(ch.Key)))
		return
	}
	ch.Action = Replace
	c.add(c.claim(ch))
}

func sortedQueues(s *state.State) []state.Key {
	keys := make([]state.Key, 0, len(s.Queues))
	for k := range s.Queues {
		keys = append(keys, k)
	}
	state.SortKeys(keys)
	return keys
}

func intPtr(i int) *int { return &i }

// objectFields lists a new object's fields for the plan, one per leaf
// (lists count as leaves), secrets masked. apiVersion and kind are in the
// key already.
func objectFields(key state.Key, o *unstructured.Unstructured) []FieldChange {
	var out []FieldChange
	var walk func(path string, v any)
	walk = func(path string, v any) {
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				walk(join(path, k), m[k])
			}
			return
		}
		if l, ok := v.([]any); ok && len(l) > 1 && listOfObjects(l) {
			// One line per rule, subject or volume: a reviewer reads
			// each, where the whole list would be "[...3 items]".
			for i, item := range l {
				out = append(out, FieldChange{Path: path + "[" + strconv.Itoa(i) + "]", New: item, HasNew: true})
			}
			return
		}
		out = append(out, FieldChange{Path: path, New: v, HasNew: true})
	}
	obj, _ := normalize(cleanObject(o)).(map[string]any)
	delete(obj, "apiVersion")
	delete(obj, "kind")
	walk("", obj)
	return mask(key, out)
}

func listOfObjects(l []any) bool {
	for _, item := range l {
		if _, ok := item.(map[string]any); !ok {
			return false
		}
	}
	return true
}

// mask hides Secret values: the change says which key changed, never the value.
func mask(key state.Key, fields []FieldChange) []FieldChange {
	if key.Kind != "Secret" || key.Group != "" {
		return fields
	}
	var out []FieldChange
	for _, f := range fields {
		if f.Path == "data" || f.Path == "stringData" {
			// A whole map added or removed: one masked entry per key.
			for _, side := range []any{f.Old, f.New} {
				if m, ok := side.(map[string]any); ok {
					for k := range m {
						out = append(out, FieldChange{Path: join(f.Path, k), HasOld: f.HasOld, HasNew: f.HasNew, Sensitive: true})
					}
				}
			}
			continue
		}
		if strings.HasPrefix(f.Path, "data") || strings.HasPrefix(f.Path, "stringData") {
			f.Sensitive = true
			f.Old, f.New = nil, nil
			if f.HasOld {
				f.Old = Masked
			}
			if f.HasNew {
				f.New = Masked
			}
		}
		out = append(out, f)
	}
	for i := range out {
		if out[i].Sensitive {
			out[i].Old, out[i].New = maskSide(out[i].HasOld), maskSide(out[i].HasNew)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func maskSide(has bool) any {
	if has {
		return Masked
	}
	return nil
}
