package inventory_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/inventory"
	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// countingStore counts list calls and the prefixes they asked for.
type countingStore struct {
	*variables
	lists []string
}

func (c *countingStore) ListVariables(ctx context.Context, prefix string) ([]prefect.Variable, error) {
	c.lists = append(c.lists, prefix)
	return c.variables.ListVariables(ctx, prefix)
}

// LoadAll reads every set's inventory in one listing: the set's own, the
// same as Load reads, and the others', which say who owns what; names that
// are not a set's numbered parts are left out.
func TestLoadAllReadsEverySetInOneListing(t *testing.T) {
	ctx := context.Background()
	store := &countingStore{variables: newVariables()}
	for set, keys := range map[string][]state.Key{
		"gbif":    {state.PoolKey("cpu"), state.QueueKey("cpu", "batch"), state.PoolKey("mem"), state.PoolKey("shared")},
		"newteam": {state.PoolKey("gpu"), state.PoolKey("shared"), state.QueueKey("shared", "q")},
		"a-b":     {state.QueueKey("cpu", "urgent")},
	} {
		inv := inventory.New(set)
		inv.Add(keys...)
		inv.Kubernetes, inv.Namespaces = set == "gbif", []string{"prefect"}
		if err := inv.Save(ctx, store.variables); err != nil {
			t.Fatal(err)
		}
	}
	store.vals[inventory.Prefix("gbif")+"notes"] = "not an inventory"
	store.vals["prefect-apply_x_y_0"] = "no set has a '_'"
	store.vals["prefect-apply_0"] = "no set"
	store.vals["my-prefect-apply_gbif_0"] = map[string]any{"pools": []any{"foreign"}}

	all, err := inventory.LoadAll(ctx, store, "gbif")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(store.lists, []string{"prefect-apply_"}) {
		t.Errorf("listings: %q, want one of prefect-apply_", store.lists)
	}
	alone, err := inventory.Load(ctx, store.variables, "gbif")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(all.Own.Keys(), alone.Keys()) || !all.Own.Kubernetes || !reflect.DeepEqual(all.Own.Namespaces, []string{"prefect"}) || !all.Own.NamespacesKnown() {
		t.Errorf("own inventory %v %+v, Load reads %v", all.Own.Keys(), all.Own, alone.Keys())
	}
	for k, want := range map[state.Key][]string{
		state.PoolKey("cpu"):                nil, // gbif's own
		state.PoolKey("gpu"):                {"newteam"},
		state.PoolKey("shared"):             {"newteam"},
		state.QueueKey("shared", "q"):       {"newteam"},
		state.QueueKey("shared", "default"): {"newteam"}, // with its pool
		state.QueueKey("gpu", "default"):    {"newteam"},
		state.QueueKey("cpu", "urgent"):     {"a-b"},
		state.QueueKey("cpu", "default"):    nil,
		state.PoolKey("nobody"):             nil,
	} {
		if got := all.OwnersOf(k); !reflect.DeepEqual(got, want) {
			t.Errorf("OwnersOf(%s) = %q, want %q", k, got, want)
		}
	}
	if all.Other("gbif") != nil || all.Other("newteam") == nil || all.Other("nobody") != nil {
		t.Error("Other: the set's own inventory is not another's, and a set without variables has none")
	}

	// Taking a pool from another set drops it alone (Drop, not Remove:
	// its queues stay), and writes only that set's part.
	other := all.Other("newteam")
	other.Drop(state.PoolKey("shared"))
	store.reset()
	if err := other.Save(ctx, store.variables); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(store.sets, []string{inventory.Prefix("newteam") + "0"}) || len(store.deletes) != 0 {
		t.Errorf("saving newteam wrote %v, deleted %v", store.sets, store.deletes)
	}
	back, _ := inventory.Load(ctx, store.variables, "newteam")
	if want := []state.Key{state.PoolKey("gpu"), state.QueueKey("shared", "q")}; !reflect.DeepEqual(back.Keys(), want) {
		t.Errorf("newteam after the drop: %v, want %v", back.Keys(), want)
	}
}

// A list error names the set; another set's malformed part is an error
// that names the variable, as the set's own is: without it, what that set
// owns is unknown.
func TestLoadAllErrors(t *testing.T) {
	ctx := context.Background()
	store := newVariables()
	store.listErr = errors.New("connection refused")
	if _, err := inventory.LoadAll(ctx, store, "gbif"); err == nil || !strings.Contains(err.Error(), `set "gbif"`) || !errors.Is(err, store.listErr) {
		t.Errorf("list error: %v", err)
	}
	store = newVariables()
	store.vals[inventory.Prefix("other")+"0"] = "a string, not a part"
	if _, err := inventory.LoadAll(ctx, store, "gbif"); err == nil ||
		!strings.Contains(err.Error(), `reading the inventory of set "other": variable "prefect-apply_other_0" is not an inventory`) {
		t.Errorf("another set's malformed part: %v", err)
	}
}
