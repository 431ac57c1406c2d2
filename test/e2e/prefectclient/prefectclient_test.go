package prefectclient

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/state"
	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

// TestPrefectClient runs the client against one real Prefect server with
// basic auth on. The password is a canary: no error or summary may show it.
func TestPrefectClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real Prefect server")
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	secret := "canary-" + hex.EncodeToString(b)
	srv := servers.StartPrefect(t, servers.PrefectOptions{AuthString: "admin:" + secret})
	env := map[string]string{"PREFECT_API_URL": srv.URL, "PREFECT_API_AUTH_STRING": srv.AuthString}
	c := connect(t, env)
	noSecret := func(t *testing.T, s string) {
		t.Helper()
		if strings.Contains(s, secret) {
			t.Errorf("shows the secret: %s", s)
		}
	}
	noSecret(t, c.Connection().String())

	t.Run("pools and queues", func(t *testing.T) { testPoolsAndQueues(t, c, noSecret) })
	t.Run("paging", func(t *testing.T) { testPaging(t, c, env) })
	t.Run("variables", func(t *testing.T) { testVariables(t, c, srv) })
	t.Run("auth", func(t *testing.T) { testAuth(t, srv, noSecret) })
}

func testPoolsAndQueues(t *testing.T, c *prefect.Client, noSecret func(*testing.T, string)) {
	ctx := ctxFor(t)
	name := "gpu tasks #1? données"
	tmpl := map[string]any{
		"job_configuration": map[string]any{"image": "{{ image }}", "cpu": 2.5},
		"variables": map[string]any{"type": "object", "properties": map[string]any{
			"image": map[string]any{"type": "string", "default": "busybox:1.36"}}},
	}
	must(t, c.CreatePool(ctx, &state.Pool{Name: name, Type: "kubernetes", Description: ptr("GPU jobs"),
		Paused: ptr(false), ConcurrencyLimit: ptr(3), BaseJobTemplate: tmpl}))
	if err := c.CreatePool(ctx, &state.Pool{Name: name, Type: "kubernetes"}); !prefect.IsConflict(err) {
		t.Errorf("second create: %v, want a 409", err)
	} else {
		t.Logf("duplicate pool: %v", err)
	}

	p, err := c.GetPool(ctx, name)
	must(t, err)
	if p.Name != name || p.Type != "kubernetes" || *p.Description != "GPU jobs" || *p.Paused ||
		*p.ConcurrencyLimit != 3 || p.ID == "" || p.Updated == "" || p.Status == "" || !jsonEqual(p.BaseJobTemplate, tmpl) {
		t.Errorf("pool = %+v", p)
	}
	t.Logf("new pool status %q", p.Status)

	// A null clears; an omitted field is left alone.
	must(t, c.UpdatePool(ctx, name, state.PoolUpdate{Fields: state.FieldDescription | state.FieldConcurrencyLimit | state.FieldPaused,
		Pool: &state.Pool{Paused: ptr(true)}}))
	p, err = c.GetPool(ctx, name)
	must(t, err)
	if p.Description != nil || p.ConcurrencyLimit != nil || !*p.Paused || !jsonEqual(p.BaseJobTemplate, tmpl) {
		t.Errorf("after update: description=%v limit=%v paused=%v template=%v", p.Description, p.ConcurrencyLimit, *p.Paused, p.BaseJobTemplate)
	}

	// The Prefect 2 block format is refused with the server's reason.
	err = c.UpdatePool(ctx, name, state.PoolUpdate{Fields: state.FieldBaseJobTemplate,
		Pool: &state.Pool{BaseJobTemplate: map[string]any{"job": map[string]any{"token": "x"}}}})
	var ae *prefect.APIError
	if !errors.As(err, &ae) || ae.Status != 422 || !strings.Contains(err.Error(), "base_job_template") {
		t.Errorf("invalid template: %v", err)
	}
	t.Logf("invalid template: %v", err)

	// Every new pool gets a "default" queue; a new queue at priority 1 pushes it down.
	def, err := c.GetQueue(ctx, name, "default")
	must(t, err)
	if *def.Priority != 1 || def.Pool != name {
		t.Errorf("default queue = %+v", def)
	}
	qname := "high priority #2 ?"
	must(t, c.CreateQueue(ctx, &state.Queue{Pool: name, Name: qname, Priority: ptr(1), ConcurrencyLimit: ptr(2), Description: ptr("urgent")}))
	if err := c.CreateQueue(ctx, &state.Queue{Pool: name, Name: qname}); !prefect.IsConflict(err) {
		t.Errorf("second queue create: %v, want a 409", err)
	}
	must(t, c.UpdateQueue(ctx, name, qname, state.QueueUpdate{Fields: state.FieldPaused, Queue: &state.Queue{Paused: ptr(true)}}))

	live, err := c.ReadState(ctx)
	must(t, err)
	q := live.Queues[state.QueueKey(name, qname)]
	def = live.Queues[state.QueueKey(name, "default")]
	if live.Pools[name] == nil || q == nil || def == nil {
		t.Fatalf("ReadState lacks the pool or its queues: %v", live.QueuesByPool()[name])
	}
	if *q.Priority != 1 || *q.ConcurrencyLimit != 2 || *q.Description != "urgent" || !*q.Paused || q.ID == "" {
		t.Errorf("queue = %+v", q)
	}
	t.Logf("default queue after a new priority-1 queue: priority %d, description %q (null: %v)", *def.Priority, deref(def.Description), def.Description == nil)

	if err := c.DeleteQueue(ctx, name, "default"); !errors.As(err, &ae) || ae.Status != 500 || !strings.Contains(err.Error(), "default queue") {
		t.Errorf("deleting the default queue: %v, want a 500 with a hint", err)
	} else {
		t.Logf("deleting the default queue: %v", err)
	}
	must(t, c.DeleteQueue(ctx, name, qname))
	if _, err := c.GetQueue(ctx, name, qname); !prefect.IsNotFound(err) {
		t.Errorf("deleted queue: %v, want a 404", err)
	}

	if err := c.CreatePool(ctx, &state.Pool{Name: "Prefect-internal", Type: "process"}); err == nil {
		t.Error("a reserved name should be refused")
	} else {
		t.Logf("reserved name: %v", err)
		noSecret(t, err.Error())
	}

	must(t, c.DeletePool(ctx, name))
	if _, err := c.GetPool(ctx, name); !prefect.IsNotFound(err) {
		t.Errorf("deleted pool: %v, want a 404", err)
	}
	if err := c.DeletePool(ctx, name); !prefect.IsNotFound(err) {
		t.Errorf("second delete: %v, want a 404", err)
	} else {
		t.Logf("second delete: %v", err)
	}
}

// testPaging creates more than a page of pools (each with its "default"
// queue, so queue names tie across pools) and reads them back.
func testPaging(t *testing.T, c *prefect.Client, env map[string]string) {
	ctx := ctxFor(t)
	const n = 230
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("page %03d", i)
	}
	parallel := func(f func(name string) error) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for _, name := range names {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				if err := f(name); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	parallel(func(name string) error {
		return c.CreatePool(ctx, &state.Pool{Name: name, Type: "process"})
	})
	t.Cleanup(func() { parallel(func(name string) error { return c.DeletePool(ctx, name) }) })

	fresh := connect(t, env)
	live, err := fresh.ReadState(ctx)
	must(t, err)
	for _, name := range names {
		if live.Pools[name] == nil || live.Queues[state.QueueKey(name, "default")] == nil {
			t.Errorf("ReadState lacks pool %q or its default queue", name)
		}
	}
	stats := fresh.Stats()
	t.Logf("ReadState of %d pools and %d queues: %v", len(live.Pools), len(live.Queues), stats)
	wantPages := len(live.Pools)/200 + 1
	if stats["POST work_pools/filter"] != wantPages {
		t.Errorf("pool pages = %d, want %d", stats["POST work_pools/filter"], wantPages)
	}
	if stats["POST work_queues/filter"] != len(live.Queues)/200+1 {
		t.Errorf("queue pages = %d, want %d", stats["POST work_queues/filter"], len(live.Queues)/200+1)
	}
}

func testVariables(t *testing.T, c *prefect.Client, srv *servers.Prefect) {
	ctx := ctxFor(t)
	name := "prefect_apply_inventory_e2e"
	if _, found, err := c.GetVariable(ctx, name); err != nil || found {
		t.Fatalf("before: found=%v err=%v", found, err)
	}
	v1 := map[string]any{"pools": []any{"gpu tasks #1", "cpu"}, "version": 1.0}
	must(t, c.SetVariable(ctx, name, v1, []string{"prefect-apply"}))
	got, found, err := c.GetVariable(ctx, name)
	if err != nil || !found || !jsonEqual(got, v1) {
		t.Fatalf("after create: %v %v %v", got, found, err)
	}
	v2 := map[string]any{"pools": []any{"cpu"}, "version": 2.0}
	must(t, c.SetVariable(ctx, name, v2, nil))
	if got, _, _ := c.GetVariable(ctx, name); !jsonEqual(got, v2) {
		t.Errorf("after update: %v", got)
	}

	must(t, c.SetVariable(ctx, "other_prefect_apply_x", "not ours", nil))
	must(t, c.SetVariable(ctx, "prefectxapply_y", 1, nil)) // '_' is a LIKE wildcard on the server
	_, body := raw(t, "POST", srv.URL+"/variables/filter", srv.AuthString,
		map[string]any{"variables": map[string]any{"name": map[string]any{"like_": "prefect_apply_"}}})
	t.Logf("server's name.like_ %q matches: %s", "prefect_apply_", names(body))
	list, err := c.ListVariables(ctx, "prefect_apply_")
	must(t, err)
	if len(list) != 1 || list[0].Name != name || strings.Join(list[0].Tags, ",") != "prefect-apply" {
		t.Errorf("ListVariables = %+v, want only %q with its tags kept", list, name)
	}

	// The size limit: the server counts the value's compact JSON in bytes.
	fits := strings.Repeat("x", 4998) // 5000 with the quotes
	must(t, c.SetVariable(ctx, name, fits, nil))
	for _, big := range []any{strings.Repeat("x", 4999), strings.Repeat("é", 2500), strings.Repeat("y", 6000)} {
		err := c.SetVariable(ctx, name, big, nil)
		if !errors.Is(err, prefect.ErrVariableTooLarge) {
			t.Errorf("SetVariable of %d characters: %v", len([]rune(big.(string))), err)
		}
		code, body := raw(t, "PATCH", srv.URL+"/variables/name/"+name, srv.AuthString, map[string]any{"value": big})
		if code != 422 || !strings.Contains(body, "Variable value must be less than 5000 characters") {
			t.Errorf("server PATCH of a %d-byte value: %d %s", len(big.(string))+2, code, body)
		}
		code, _ = raw(t, "POST", srv.URL+"/variables/", srv.AuthString, map[string]any{"name": "big_one", "value": big})
		if code != 422 {
			t.Errorf("server POST of a %d-byte value: %d", len(big.(string))+2, code)
		}
	}
	t.Logf("too large: %v", c.SetVariable(ctx, name, strings.Repeat("y", 6000), nil))
	if got, _, _ := c.GetVariable(ctx, name); got != fits {
		t.Error("a refused update changed the value")
	}

	err = c.SetVariable(ctx, "Bad Name", 1, nil)
	t.Logf("invalid name: %v", err)
	if err == nil {
		t.Error("an invalid variable name should be refused")
	}

	for _, n := range []string{name, "other_prefect_apply_x", "prefectxapply_y"} {
		must(t, c.DeleteVariable(ctx, n))
	}
	if _, found, err := c.GetVariable(ctx, name); err != nil || found {
		t.Errorf("after delete: found=%v err=%v", found, err)
	}
	if err := c.DeleteVariable(ctx, name); !prefect.IsNotFound(err) {
		t.Errorf("second delete: %v, want a 404", err)
	}
}

func testAuth(t *testing.T, srv *servers.Prefect, noSecret func(*testing.T, string)) {
	ctx := ctxFor(t)
	user, _, _ := strings.Cut(srv.AuthString, ":")
	tests := map[string]struct {
		env  map[string]string
		want string
	}{
		"none":      {env: map[string]string{}, want: "no credential was sent: set PREFECT_API_AUTH_STRING=user:pass"},
		"wrong":     {env: map[string]string{"PREFECT_API_AUTH_STRING": user + ":wrong-" + srv.AuthString}, want: "the server rejected PREFECT_API_AUTH_STRING from the environment"},
		"api key":   {env: map[string]string{"PREFECT_API_KEY": "pnu_" + srv.AuthString}, want: "the server rejected PREFECT_API_KEY from the environment"},
		"auth wins": {env: map[string]string{"PREFECT_API_AUTH_STRING": srv.AuthString, "PREFECT_API_KEY": "pnu_x"}},
		"right":     {env: map[string]string{"PREFECT_API_AUTH_STRING": srv.AuthString}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.env["PREFECT_API_URL"] = srv.URL
			c := connect(t, tc.env)
			_, err := c.ListPools(ctx)
			if tc.want == "" {
				must(t, err)
				return
			}
			var ae *prefect.APIError
			if !errors.As(err, &ae) || ae.Status != 401 || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want a 401 with %q", err, tc.want)
			}
			t.Logf("%s: %v", name, err)
			noSecret(t, err.Error())
			noSecret(t, fmt.Sprintf("%+v %#v %s", c, c.Connection(), c.Connection()))
		})
	}

	t.Run("profile", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "profiles.toml")
		must(t, os.WriteFile(path, fmt.Appendf(nil, "active = \"e2e\"\n[profiles.e2e]\nPREFECT_API_URL = %q\nPREFECT_API_AUTH_STRING = %q\n",
			srv.URL, srv.AuthString), 0o600))
		conn, err := prefect.Resolve(prefect.ResolveInput{HomeDir: dir,
			Getenv: func(k string) string { return map[string]string{"PREFECT_PROFILES_PATH": path}[k] }})
		must(t, err)
		want := fmt.Sprintf("PREFECT_API_AUTH_STRING from profile %q in %s", "e2e", path)
		if conn.URLSource != fmt.Sprintf("profile %q in %s", "e2e", path) || conn.Auth.String() != want {
			t.Errorf("connection = %s", conn)
		}
		c, err := prefect.New(conn, prefect.Options{})
		must(t, err)
		_, err = c.ListPools(ctx)
		must(t, err)
	})
}
