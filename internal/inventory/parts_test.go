package inventory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prefect-apply/prefect-apply/internal/inventory"
	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// variables is an in-memory Prefect variables API. Its list filter behaves
// like the server's name.like_: a case-insensitive substring match in which
// '_' matches any character, so a prefix also returns other sets' variables
// and the inventory has to check names itself.
type variables struct {
	vals    map[string]any
	sets    []string // names written, in order
	deletes []string
	listErr error
}

var _ inventory.Store = (*variables)(nil)

func newVariables() *variables { return &variables{vals: map[string]any{}} }

func (v *variables) ListVariables(_ context.Context, prefix string) ([]prefect.Variable, error) {
	if v.listErr != nil {
		return nil, v.listErr
	}
	pattern := regexp.QuoteMeta(strings.ToLower(prefix))
	pattern = strings.ReplaceAll(pattern, "_", ".")
	re := regexp.MustCompile(pattern)
	var out []prefect.Variable
	for name, val := range v.vals {
		if re.MatchString(strings.ToLower(name)) {
			out = append(out, prefect.Variable{Name: name, Value: val})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (v *variables) SetVariable(_ context.Context, name string, value any, tags []string) error {
	if len(tags) != 1 || tags[0] != inventory.Tag {
		return fmt.Errorf("variable %s written with tags %v", name, tags)
	}
	// Stored and returned as the server does: through JSON.
	raw, err := json.Marshal(value)
	if err != nil {
		return err
	}
	var back any
	if err := json.Unmarshal(raw, &back); err != nil {
		return err
	}
	v.vals[name] = back
	v.sets = append(v.sets, name)
	return nil
}

func (v *variables) DeleteVariable(_ context.Context, name string) error {
	if _, ok := v.vals[name]; !ok {
		return &prefect.APIError{Status: 404}
	}
	delete(v.vals, name)
	v.deletes = append(v.deletes, name)
	return nil
}

func (v *variables) reset() { v.sets, v.deletes = nil, nil }

// pythonDumpsLen is len(json.dumps(value)) with Python's defaults: ", " and
// ": " separators and ensure_ascii (non-ASCII characters written as \uXXXX,
// astral ones as a surrogate pair).
func pythonDumpsLen(v any) int {
	switch x := v.(type) {
	case nil:
		return len("null")
	case bool:
		return len(strconv.FormatBool(x))
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return len(strconv.FormatInt(int64(x), 10))
		}
		return len(strconv.FormatFloat(x, 'g', -1, 64))
	case string:
		n := 2
		for _, r := range x {
			switch {
			case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t' || r == '\b' || r == '\f':
				n += 2
			case r < 0x20 || r == 0x7f:
				n += 6
			case r < 0x7f:
				n++
			case r > 0xffff:
				n += 12
			default:
				n += 6
			}
		}
		return n
	case []any:
		n := 2 + 2*max(0, len(x)-1)
		for _, e := range x {
			n += pythonDumpsLen(e)
		}
		return n
	case map[string]any:
		n := 2 + 2*max(0, len(x)-1)
		for k, e := range x {
			n += pythonDumpsLen(k) + 2 + pythonDumpsLen(e)
		}
		return n
	}
	panic(fmt.Sprintf("unexpected %T", v))
}

// compactUTF8Len is the length of the compact UTF-8 JSON newer servers
// measure (orjson.dumps).
func compactUTF8Len(v any) int {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return b.Len() - 1
}

func TestPythonDumpsLen(t *testing.T) {
	// Lengths printed by CPython 3.11's json.dumps for the same values.
	for value, want := range map[string]int{
		`{"version": 1, "set": "s", "pools": ["a", "b"]}`: 47,
		`["pøøl", "🚀", "tab\there", "#x y"]`:              55,
		`{"queues": [["p", "default"]]}`:                  30,
	} {
		var v any
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			t.Fatal(err)
		}
		if got := pythonDumpsLen(v); got != want {
			t.Errorf("pythonDumpsLen(%s) = %d, want %d", value, got, want)
		}
	}
}

// Large inventories are split across variables, each under the server's
// limit however it counts: with Python's json.dumps (spaces after separators,
// non-ASCII escaped) or as compact UTF-8.
func TestPartsStayUnderTheServerLimit(t *testing.T) {
	tests := map[string]func(i int) string{
		"short names":                     func(i int) string { return fmt.Sprintf("p%d", i) },
		"spaces, hash, non-ASCII, astral": func(i int) string { return fmt.Sprintf("gpu pøøl #%d 🚀", i) },
		"quotes, escapes, long":           func(i int) string { return fmt.Sprintf(`a"b\c%d-%s`, i, strings.Repeat("x", 80)) },
	}
	for name, poolName := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := newVariables()
			inv := inventory.New("big")
			var want []state.Key
			for i := 0; i < 1000; i++ {
				p := poolName(i)
				keys := []state.Key{state.PoolKey(p), state.QueueKey(p, "default"), state.QueueKey(p, "high"), state.QueueKey(p, "low ☃")}
				inv.Add(keys...)
				want = append(want, keys...)
			}
			if err := inv.Save(ctx, store); err != nil {
				t.Fatal(err)
			}
			if len(store.vals) < 3 {
				t.Errorf("4000 keys in %d variable(s)", len(store.vals))
			}
			for vname, v := range store.vals {
				if !strings.HasPrefix(vname, inventory.Prefix("big")) {
					t.Errorf("variable %q outside the set's prefix", vname)
				}
				if n := pythonDumpsLen(v); n >= prefect.MaxVariableValueLength {
					t.Errorf("%s: json.dumps gives %d characters, the limit is %d", vname, n, prefect.MaxVariableValueLength)
				}
				if n := compactUTF8Len(v); n >= prefect.MaxVariableValueLength {
					t.Errorf("%s: compact JSON is %d bytes, the limit is %d", vname, n, prefect.MaxVariableValueLength)
				}
			}
			back, err := inventory.Load(ctx, store, "big")
			if err != nil {
				t.Fatal(err)
			}
			state.SortKeys(want)
			if got := back.Keys(); !reflect.DeepEqual(got, want) {
				t.Errorf("read back %d keys, want %d", len(got), len(want))
			}
			for _, k := range want[:5] {
				if !utf8.ValidString(k.Name) || !back.Owns(k) {
					t.Errorf("%s lost", k)
				}
			}
		})
	}
}

func TestSaveWritesOnlyWhatChanged(t *testing.T) {
	ctx := context.Background()
	store := newVariables()
	inv := inventory.New("team")
	for i := 0; i < 600; i++ {
		p := fmt.Sprintf("pool-%03d", i)
		inv.Add(state.PoolKey(p), state.QueueKey(p, "default"))
	}
	if err := inv.Save(ctx, store); err != nil {
		t.Fatal(err)
	}
	parts := len(store.vals)
	if parts < 2 || len(store.sets) != parts {
		t.Fatalf("%d parts, %d writes", parts, len(store.sets))
	}

	// Read back and saved unchanged: nothing written.
	inv, err := inventory.Load(ctx, store, "team")
	if err != nil {
		t.Fatal(err)
	}
	store.reset()
	if err := inv.Save(ctx, store); err != nil || len(store.sets)+len(store.deletes) != 0 {
		t.Errorf("unchanged save wrote %v, deleted %v (err %v)", store.sets, store.deletes, err)
	}

	// A key that sorts last changes the last part only.
	inv.Add(state.QueueKey("pool-599", "zz-late"))
	store.reset()
	if err := inv.Save(ctx, store); err != nil {
		t.Fatal(err)
	}
	if want := []string{inventory.Prefix("team") + strconv.Itoa(parts-1)}; !reflect.DeepEqual(store.sets, want) || len(store.deletes) != 0 {
		t.Errorf("adding one key wrote %v and deleted %v, want only %v", store.sets, store.deletes, want)
	}

	// Fewer keys, fewer parts: the surplus parts are deleted.
	for i := 0; i < 590; i++ {
		inv.Remove(state.PoolKey(fmt.Sprintf("pool-%03d", i)))
	}
	store.reset()
	if err := inv.Save(ctx, store); err != nil {
		t.Fatal(err)
	}
	if len(store.vals) != 1 || len(store.deletes) != parts-1 {
		t.Errorf("after shrinking: %d variables left, %d deleted (want 1 and %d)", len(store.vals), len(store.deletes), parts-1)
	}
	back, err := inventory.Load(ctx, store, "team")
	if err != nil {
		t.Fatal(err)
	}
	if back.Len() != 21 || !back.Owns(state.QueueKey("pool-599", "zz-late")) || back.Owns(state.PoolKey("pool-000")) {
		t.Errorf("after shrinking, read back %v", back.Keys())
	}

	// Everything removed: no variables at all.
	for _, k := range back.Keys() {
		back.Remove(k)
	}
	if err := back.Save(ctx, store); err != nil || len(store.vals) != 0 {
		t.Errorf("empty inventory left %v (err %v)", store.vals, err)
	}
	// A new empty inventory writes nothing.
	store.reset()
	if err := inventory.New("empty").Save(ctx, store); err != nil || len(store.sets) != 0 {
		t.Errorf("empty inventory wrote %v (err %v)", store.sets, err)
	}
}

// Set "a"'s prefix is also a substring (and, with '_' as a wildcard, a LIKE
// match) of set "a-b"'s and "a_b"-like names: loading "a" reads only its own
// numbered parts.
func TestLoadReadsOnlyItsOwnSet(t *testing.T) {
	ctx := context.Background()
	store := newVariables()
	for set, pool := range map[string]string{"a": "mine", "a-b": "theirs", "xa": "other"} {
		inv := inventory.New(set)
		inv.Add(state.PoolKey(pool), state.QueueKey(pool, "q"))
		if err := inv.Save(ctx, store); err != nil {
			t.Fatal(err)
		}
	}
	// Variables of other tools next to the inventory.
	store.vals[inventory.Prefix("a")+"notes"] = "not an inventory"
	store.vals["my-prefect-apply_a_0"] = map[string]any{"pools": []any{"foreign"}}
	got, err := inventory.Load(ctx, store, "a")
	if err != nil {
		t.Fatal(err)
	}
	want := []state.Key{state.PoolKey("mine"), state.QueueKey("mine", "q")}
	if !reflect.DeepEqual(got.Keys(), want) {
		t.Errorf("set a read %v, want %v", got.Keys(), want)
	}
	// Saving set a leaves the others' variables alone.
	got.Add(state.PoolKey("more"))
	store.reset()
	if err := got.Save(ctx, store); err != nil {
		t.Fatal(err)
	}
	if len(store.deletes) != 0 || !reflect.DeepEqual(store.sets, []string{inventory.Prefix("a") + "0"}) {
		t.Errorf("saving set a wrote %v, deleted %v", store.sets, store.deletes)
	}
	for _, set := range []string{"a-b", "xa"} {
		other, err := inventory.Load(ctx, store, set)
		if err != nil || other.Len() != 2 {
			t.Errorf("set %s: %v (err %v)", set, other.Keys(), err)
		}
	}
}

func TestRemoveAndAdd(t *testing.T) {
	inv := inventory.New("s")
	inv.Add(state.PoolKey("gpu"), state.QueueKey("gpu", "default"), state.QueueKey("gpu", "urgent"),
		state.PoolKey("gpu-2"), state.QueueKey("gpu-2", "default"),
		state.Key{System: state.Kubernetes, Kind: "Namespace", Name: "prefect"})
	if inv.Len() != 5 {
		t.Errorf("Kubernetes keys are recorded by labels, not here: %v", inv.Keys())
	}
	inv.Remove(state.PoolKey("gpu"))
	want := []state.Key{state.PoolKey("gpu-2"), state.QueueKey("gpu-2", "default")}
	if !reflect.DeepEqual(inv.Keys(), want) {
		t.Errorf("after removing pool gpu: %v, want %v", inv.Keys(), want)
	}
	inv.Remove(state.QueueKey("gpu-2", "default"))
	if !inv.Owns(state.PoolKey("gpu-2")) || inv.Owns(state.QueueKey("gpu-2", "default")) {
		t.Errorf("removing a queue: %v", inv.Keys())
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	store := newVariables()
	store.listErr = errors.New("connection refused")
	if _, err := inventory.Load(ctx, store, "gbif"); err == nil || !strings.Contains(err.Error(), `set "gbif"`) || !errors.Is(err, store.listErr) {
		t.Errorf("list error: %v", err)
	}
	store = newVariables()
	store.vals[inventory.Prefix("gbif")+"0"] = "a string, not a part"
	if _, err := inventory.Load(ctx, store, "gbif"); err == nil || !strings.Contains(err.Error(), inventory.Prefix("gbif")+"0") {
		t.Errorf("malformed part: %v", err)
	}
}

// The Kubernetes mark lives in the first part, survives a round trip, keeps
// a part alone when the set owns no Prefect object, and clearing it writes
// only that part (or deletes it when nothing else is left).
func TestKubernetesMark(t *testing.T) {
	ctx := context.Background()
	store := newVariables()
	inv := inventory.New("team")
	inv.Kubernetes = true
	if err := inv.Save(ctx, store); err != nil {
		t.Fatal(err)
	}
	first := inventory.Prefix("team") + "0"
	if len(store.vals) != 1 || store.vals[first] == nil {
		t.Fatalf("a set owning only Kubernetes objects wrote %v", store.vals)
	}
	back, err := inventory.Load(ctx, store, "team")
	if err != nil || !back.Kubernetes || back.Len() != 0 {
		t.Fatalf("read back: kubernetes %v, %d keys (err %v)", back.Kubernetes, back.Len(), err)
	}

	for i := 0; i < 600; i++ {
		back.Add(state.PoolKey(fmt.Sprintf("pool-%03d", i)))
	}
	if err := back.Save(ctx, store); err != nil {
		t.Fatal(err)
	}
	parts := len(store.vals)
	back, err = inventory.Load(ctx, store, "team")
	if err != nil || !back.Kubernetes || back.Len() != 600 || parts < 2 {
		t.Fatalf("with %d parts read back kubernetes %v, %d keys (err %v)", parts, back.Kubernetes, back.Len(), err)
	}
	back.Kubernetes = false
	store.reset()
	if err := back.Save(ctx, store); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(store.sets, []string{first}) || len(store.deletes) != 0 {
		t.Errorf("clearing the mark wrote %v and deleted %v, want only %s", store.sets, store.deletes, first)
	}
	again, err := inventory.Load(ctx, store, "team")
	if err != nil || again.Kubernetes || again.Len() != 600 {
		t.Errorf("after clearing: kubernetes %v, %d keys (err %v)", again.Kubernetes, again.Len(), err)
	}

	only := inventory.New("solo")
	only.Kubernetes = true
	if err := only.Save(ctx, store); err != nil {
		t.Fatal(err)
	}
	only.Kubernetes = false
	store.reset()
	if err := only.Save(ctx, store); err != nil || !reflect.DeepEqual(store.deletes, []string{inventory.Prefix("solo") + "0"}) {
		t.Errorf("clearing the mark of a set owning nothing else deleted %v (err %v)", store.deletes, err)
	}
}

// The Kubernetes record names the set's namespaces, sorted and once each;
// many long ones are split across parts under the server's limit. An
// inventory of version 1 parts does not know them until it is saved again.
func TestKubernetesNamespaces(t *testing.T) {
	ctx := context.Background()
	store := newVariables()
	inv := inventory.New("team")
	inv.Kubernetes = true
	inv.Namespaces = []string{"prefect", "batch", "prefect"}
	if err := inv.Save(ctx, store); err != nil {
		t.Fatal(err)
	}
	back, err := inventory.Load(ctx, store, "team")
	if err != nil || !back.NamespacesKnown() || !reflect.DeepEqual(back.Namespaces, []string{"batch", "prefect"}) {
		t.Fatalf("read back known %v, namespaces %v (err %v)", back.NamespacesKnown(), back.Namespaces, err)
	}

	// Many long namespaces next to many keys: every part under the limit,
	// everything read back.
	big := inventory.New("big")
	big.Kubernetes = true
	var want []string
	for i := 0; i < 300; i++ {
		ns := fmt.Sprintf("ns-%03d-%s", i, strings.Repeat("x", 50))
		big.Namespaces = append(big.Namespaces, ns)
		want = append(want, ns)
		big.Add(state.PoolKey(fmt.Sprintf("pool-%03d", i)))
	}
	if err := big.Save(ctx, store); err != nil {
		t.Fatal(err)
	}
	for name, v := range store.vals {
		if n := pythonDumpsLen(v); strings.HasPrefix(name, inventory.Prefix("big")) && n >= prefect.MaxVariableValueLength {
			t.Errorf("%s: json.dumps gives %d characters", name, n)
		}
	}
	back, err = inventory.Load(ctx, store, "big")
	if err != nil || !reflect.DeepEqual(back.Namespaces, want) || back.Len() != 300 {
		t.Errorf("read back %d namespaces, %d keys (err %v)", len(back.Namespaces), back.Len(), err)
	}

	// Written by an earlier version: where the objects are is unknown.
	if err := store.SetVariable(ctx, inventory.Prefix("old")+"0", map[string]any{"version": 1, "set": "old", "pools": []any{"p"}}, []string{inventory.Tag}); err != nil {
		t.Fatal(err)
	}
	old, err := inventory.Load(ctx, store, "old")
	if err != nil || old.NamespacesKnown() || old.Kubernetes || !old.Owns(state.PoolKey("p")) {
		t.Fatalf("version 1: known %v, kubernetes %v (err %v)", old.NamespacesKnown(), old.Kubernetes, err)
	}
	if err := old.Save(ctx, store); err != nil {
		t.Fatal(err)
	}
	if again, err := inventory.Load(ctx, store, "old"); err != nil || !again.NamespacesKnown() || !again.Owns(state.PoolKey("p")) {
		t.Errorf("saved again: known %v (err %v)", again.NamespacesKnown(), err)
	}
}
