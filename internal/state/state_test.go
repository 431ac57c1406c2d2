package state

import (
	"fmt"
	"testing"
)

// QueuesByPool gives every pool its own queues, sorted by name, and no
// entry to a pool without queues.
func TestQueuesByPool(t *testing.T) {
	s := New()
	for _, q := range []struct{ pool, name string }{{"b", "z"}, {"a", "default"}, {"b", "a"}, {"a", "etl"}, {"b", "m"}} {
		s.AddQueue(&Queue{Pool: q.pool, Name: q.name})
	}
	s.AddPool(&Pool{Name: "c"})
	got := map[string]string{}
	for pool, qs := range s.QueuesByPool() {
		var names []string
		for _, q := range qs {
			if q.Pool != pool {
				t.Errorf("queue %s/%s listed under %s", q.Pool, q.Name, pool)
			}
			names = append(names, q.Name)
		}
		got[pool] = fmt.Sprint(names)
	}
	want := map[string]string{"a": "[default etl]", "b": "[a m z]"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
