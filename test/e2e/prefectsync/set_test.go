package prefectsync

import (
	"strings"
	"testing"
)

// --set takes a set name like the file's `set` (lowercase letters, digits,
// '-'): a name the server cannot store as a variable name must be refused
// before anything is sent, and nothing is created.
func TestInvalidSetNameIsRefusedUpFront(t *testing.T) {
	e := newEnv(t, server(t), "badset")
	e.set = "Bad_Set"
	f := e.Write("one.yaml", "set: good\npools:\n  - name: "+e.pool("one")+"\n    type: process\n")
	rec := e.server.Record(t)
	e.Vars["PREFECT_API_URL"] = rec.URL
	code, stdout, stderr := e.Run(e.planArgs("sync", f, "--yes")...)
	if code != 1 {
		t.Errorf("sync --set Bad_Set: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if _, ok := e.api().pool(e.pool("one")); ok {
		t.Errorf("sync --set Bad_Set created the pool")
	}
	mustHold(t, len(rec.Requests()) > 0,
		"--set is not checked like the file's set (internal/cli/pipeline.go computePlan assigns it after "+
			"validation): the plan is printed and the run fails only when the server rejects the inventory "+
			"variable's name (422) after %d requests %v; stderr: %s", len(rec.Requests()), rec.Writes(), strings.TrimSpace(stderr))
}
