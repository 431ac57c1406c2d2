package robust

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/state"
	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
)

// Names Prefect accepts and that are hard to carry through URLs, JSON,
// YAML and tables: spaces at either end, '#', '?', ';', '=', '+', ':',
// quotes, backslash, tab, dot segments, names differing only in case or in
// Unicode normalisation, a space-only queue, emoji, and the longest names
// the schema allows (150 characters; as a queue of 150 emoji in a pool of
// 150 characters, the largest ownership record).
func namesModel() model {
	long := strings.Repeat("m", 149) + "#"
	emoji := strings.Repeat("🚀", 150)
	qs := func(names ...string) []queueSpec {
		out := []queueSpec{{name: "default", prio: 1, desc: "default"}}
		for i, n := range names {
			out = append(out, queueSpec{name: n, prio: i + 2, desc: "queue " + n})
		}
		return out
	}
	return model{set: "robust-names", pools: []poolSpec{
		{name: "robust names: a#b?c=d;e+f", typ: "process", desc: "url-ish", limit: 1, queues: qs("q #1?", "?", "#")},
		{name: " ünïcødé ✓ 日本 🚀 ", typ: "process", desc: "unicode, spaces at both ends", limit: 2, queues: qs("café", "cafe\u0301", "Case", "case")},
		{name: `back\slash 'single' "double"`, typ: "process", desc: "quotes", limit: 3, queues: qs("tab\there", " ", "''", ".")},
		{name: "..", typ: "process", desc: "a dot segment", limit: 4, queues: qs("..", "a:b")},
		{name: "Préfect is not reserved", typ: "process", desc: "starts like prefect, but not", limit: 5, queues: qs("日本語のキュー")},
		{name: long, typ: "process", desc: "the longest name", limit: 6, queues: qs(emoji, strings.Repeat("q", 150))},
	}}
}

// Such names are escaped correctly end to end: sync creates them, diff
// then exits 0 (every name read back matches the file), the server has each
// under its exact name, status shows each in sync, and a prune of a reduced
// file deletes exactly the right ones (café stays when cafe+U+0301 goes).
func TestNamesEscapedEndToEnd(t *testing.T) {
	e := newEnv(t)
	m := namesModel()
	f := e.write("names.yaml", m.yaml())
	e.must(0, "validate", "-f", f)
	e.must(0, "sync", "-f", f, "--yes")
	e.must(0, "diff", "-f", f)
	e.requireAll(m)
	if inv := e.api().inventory(m.set); !reflect.DeepEqual(inv, m.prefectKeys()) {
		t.Errorf("inventory:\n got %v\nwant %v", inv, m.prefectKeys())
	}

	// status -o json: every pool and queue, in sync.
	stdout, _ := e.must(0, "status", "-f", f, "-o", "json")
	var st struct {
		Pools []struct {
			Name, State, Sync string
			Queues            []struct{ Name, State, Sync string }
		}
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, stdout)
	}
	seen := map[state.Key]bool{}
	for _, p := range st.Pools {
		if p.State == "missing" || p.Sync != "in_sync" {
			t.Errorf("status: pool %q is %s, %s", p.Name, p.State, p.Sync)
		}
		seen[state.PoolKey(p.Name)] = true
		for _, qu := range p.Queues {
			if qu.State == "missing" || qu.Sync != "in_sync" {
				t.Errorf("status: queue %q in %q is %s, %s", qu.Name, p.Name, qu.State, qu.Sync)
			}
			seen[state.QueueKey(p.Name, qu.Name)] = true
		}
	}
	if !reflect.DeepEqual(seen, m.prefectKeys()) {
		t.Errorf("status shows\n %v\nwant\n %v", seen, m.prefectKeys())
	}
	// The text table names them too.
	stdout, _ = e.must(0, "status", "-f", f)
	for _, p := range m.pools {
		if !strings.Contains(stdout, strings.TrimSpace(p.name)) {
			t.Errorf("status table lacks pool %q:\n%s", p.name, stdout)
		}
	}

	// A reduced file: the dot-segment pool, the decomposed "café" and the
	// emoji queue leave it.
	long := m.pools[5].name
	emoji := m.pools[5].queues[1].name
	small := m.without("..", " ünïcødé ✓ 日本 🚀 /cafe\u0301", long+"/"+emoji)
	g := e.write("small.yaml", small.yaml())
	stdout, _ = e.must(0, "sync", "-f", g, "--yes", "--prune", "-o", "json")
	want := []state.Key{state.PoolKey(".."), state.QueueKey(" ünïcødé ✓ 日本 🚀 ", "cafe\u0301"), state.QueueKey(long, emoji)}
	state.SortKeys(want)
	if got := keysWith(clitest.ParsePlan(t, stdout), "delete"); !reflect.DeepEqual(got, want) {
		t.Errorf("prune deleted\n %q\nwant\n %q", got, want)
	}
	for _, k := range want {
		if exists(e, k) {
			t.Errorf("%s survived the prune", k)
		}
	}
	e.requireAll(small)
	if _, ok := e.api().queue(" ünïcødé ✓ 日本 🚀 ", "café"); !ok {
		t.Error(`"café" went with "cafe\u0301"`)
	}
	e.must(0, "diff", "-f", g, "--prune")
	if inv := e.api().inventory(m.set); !reflect.DeepEqual(inv, small.prefectKeys()) {
		t.Errorf("inventory after the prune:\n got %v\nwant %v", inv, small.prefectKeys())
	}
	figure("names", "%d pools and %d queues with hard names synced, diff 0, status in sync, prune deleted exactly %d", len(m.pools), len(m.prefectKeys())-len(m.pools), len(want))
}

// Names the server refuses, or stores and then cannot find, are refused
// offline by validate, each with its reason; names the server takes are not
// (the schema is checked against the real server in both directions).
func TestNamesRefusedOfflineAsTheServerWould(t *testing.T) {
	e := newEnv(t)
	a := e.api()
	for _, tc := range []struct {
		pool, queue string // the queue, when set, is the one refused
		says        string
	}{
		{pool: " ", says: "only spaces and quotes"},
		{pool: `' "`, says: "only spaces and quotes"},
		{pool: "a\nb", says: "line break"},
		{pool: "robust-refused", queue: "q\nx", says: "line break"},
		{pool: "a/b", says: "does not allow / % & > <"},
		{pool: "50% off", says: "does not allow / % & > <"},
		{pool: "x&y", says: "does not allow / % & > <"},
		{pool: "robust-refused", queue: "<q>", says: "does not allow / % & > <"},
		{pool: "PREFECT stuff", says: "reserved by Prefect"},
		{pool: strings.Repeat("p", 151), says: "at most 150 characters"},
		{pool: "robust-refused", queue: strings.Repeat("q", 151), says: "at most 150 characters"},
	} {
		doc := "set: robust-refused\npools:\n  - name: " + q(tc.pool) + "\n    type: process\n"
		if tc.queue != "" {
			doc += "    queues:\n      - name: " + q(tc.queue) + "\n"
		}
		f := e.write("refused.yaml", doc)
		code, stdout, stderr := e.run("validate", "-f", f)
		if code != 1 || !strings.Contains(stderr, tc.says) {
			t.Errorf("validate of pool %q queue %q: exit %d, want 1 saying %q\n%s%s", tc.pool, tc.queue, code, tc.says, stdout, stderr)
		}
		if tc.says == "at most 150 characters" {
			continue // prefect-apply's own limit: its inventory must hold the name
		}
		// The server refuses it, or stores it where no name lookup finds it.
		created := false
		if tc.queue == "" {
			created = a.do("POST", "/work_pools/", map[string]any{"name": tc.pool, "type": "process"}, nil) == http.StatusCreated
			if created {
				if st := a.do("GET", "/work_pools/"+url.PathEscape(tc.pool), nil, nil); st != http.StatusNotFound {
					t.Errorf("the server took pool %q and finds it by name (%d): validate should take it", tc.pool, st)
				}
			}
		} else {
			if _, ok := a.pool(tc.pool); !ok {
				a.createPool(tc.pool, "process")
			}
			created = a.do("POST", "/work_pools/"+url.PathEscape(tc.pool)+"/queues", map[string]any{"name": tc.queue}, nil) == http.StatusCreated
			if created {
				if st := a.do("GET", "/work_pools/"+url.PathEscape(tc.pool)+"/queues/"+url.PathEscape(tc.queue), nil, nil); st != http.StatusNotFound {
					t.Errorf("the server took queue %q and finds it by name (%d): validate should take it", tc.queue, st)
				}
			}
		}
	}
	// Accepted by both: a queue of spaces only, quotes only.
	f := e.write("ok.yaml", "set: robust-refused\npools:\n  - name: \"robust ok\"\n    type: process\n    queues:\n      - name: \" \"\n      - name: \"''\"\n")
	e.must(0, "validate", "-f", f)
}
