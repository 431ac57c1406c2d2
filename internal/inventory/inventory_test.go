package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// store is an in-memory variables API; writes counts SetVariable calls.
type store struct {
	vars   map[string]any
	writes int
}

var _ Store = (*store)(nil)

func (s *store) ListVariables(_ context.Context, prefix string) ([]prefect.Variable, error) {
	var out []prefect.Variable
	for n, v := range s.vars {
		if strings.HasPrefix(n, prefix) {
			out = append(out, prefect.Variable{Name: n, Value: v})
		}
	}
	return out, nil
}

func (s *store) SetVariable(_ context.Context, name string, value any, _ []string) error {
	raw, _ := json.Marshal(value) // as the server stores and returns it
	var v any
	_ = json.Unmarshal(raw, &v)
	s.vars[name] = v
	s.writes++
	return nil
}

func (s *store) DeleteVariable(_ context.Context, name string) error {
	delete(s.vars, name)
	return nil
}

func TestRoundTripLargeSetInParts(t *testing.T) {
	ctx := context.Background()
	s := &store{vars: map[string]any{}}
	inv := New("big")
	for i := 0; i < 1000; i++ {
		pool := fmt.Sprintf("pool %04d #é", i)
		inv.Add(state.PoolKey(pool), state.QueueKey(pool, "default"), state.QueueKey(pool, "a"), state.QueueKey(pool, "b"))
	}
	if err := inv.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	if len(s.vars) < 2 {
		t.Fatalf("4000 keys stored in %d variable(s)", len(s.vars))
	}
	for name, v := range s.vars {
		if n := pythonJSONLen(v); n >= prefect.MaxVariableValueLength {
			t.Errorf("%s: %d characters as the server measures it, limit %d", name, n, prefect.MaxVariableValueLength)
		}
	}
	back, err := Load(ctx, s, "big")
	if err != nil {
		t.Fatal(err)
	}
	if back.Len() != 4000 || !back.Owns(state.QueueKey("pool 0999 #é", "b")) {
		t.Errorf("read back %d keys", back.Len())
	}
	// Saving what was read writes nothing.
	s.writes = 0
	if err := back.Save(ctx, s); err != nil || s.writes != 0 {
		t.Errorf("re-saving an unchanged inventory wrote %d parts (err %v)", s.writes, err)
	}
	// Removing a pool drops its queues; surplus parts are deleted.
	for i := 0; i < 1000; i++ {
		back.Remove(state.PoolKey(fmt.Sprintf("pool %04d #é", i)))
	}
	if back.Len() != 0 {
		t.Errorf("%d keys left after removing every pool", back.Len())
	}
	if err := back.Save(ctx, s); err != nil || len(s.vars) != 0 {
		t.Errorf("an empty inventory left %d variables (err %v)", len(s.vars), err)
	}
}

func TestSetsDoNotSeeEachOther(t *testing.T) {
	ctx := context.Background()
	s := &store{vars: map[string]any{}}
	a, ab := New("a"), New("a-b")
	a.Add(state.PoolKey("one"))
	ab.Add(state.PoolKey("two"))
	if err := a.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := ab.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err := Load(ctx, s, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != 1 || !got.Owns(state.PoolKey("one")) {
		t.Errorf("set a read %v", got.Keys())
	}
}

// pythonJSONLen is the length of json.dumps(v) with Python's defaults
// (", " and ": " separators, non-ASCII escaped): an upper bound of what the
// server counts.
func pythonJSONLen(v any) int {
	raw, _ := json.Marshal(v)
	n := 0
	for _, r := range string(raw) {
		switch {
		case r == ',' || r == ':':
			n += 2
		case r > 0xffff:
			n += 12
		case r > 0x7f:
			n += 6
		default:
			n++
		}
	}
	return n
}
