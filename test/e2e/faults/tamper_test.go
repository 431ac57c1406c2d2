package faults

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// checkVerifierCatches changes a converged set behind prefect-apply's back,
// directly on both servers, and checks that verify reports each change:
// the checks that found nothing wrong can find something.
func checkVerifierCatches(t *testing.T, w *world, set, content, secretValue string) {
	t.Helper()
	pool0, pool1 := set+"-pool-0000", set+"-pool-0001"
	extra := set + "-pool-extra"
	expect := func(method, path string, body any, status int) {
		t.Helper()
		if got, raw := w.call(t, method, path, body); got != status {
			t.Fatalf("%s %s: %d %.300s", method, path, got, raw)
		}
	}
	expect(http.MethodPatch, "/work_pools/"+url.PathEscape(pool0), map[string]any{"description": "changed out of band"}, http.StatusNoContent)
	expect(http.MethodDelete, "/work_pools/"+url.PathEscape(pool1)+"/queues/etl", nil, http.StatusNoContent)
	expect(http.MethodPost, "/work_pools/", map[string]any{"name": extra, "type": "kubernetes"}, http.StatusCreated)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	roles := w.dyn.Resource(kubeKinds["ClusterRole"])
	role, err := roles.Get(ctx, set+"-flow-runner", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rules := role.Object["rules"].([]any)
	role.Object["rules"] = rules[:len(rules)-1]
	if _, err := roles.Update(ctx, role, metav1.UpdateOptions{FieldManager: "out-of-band"}); err != nil {
		t.Fatal(err)
	}
	if err := w.dyn.Resource(kubeKinds["Secret"]).Namespace(set).Delete(ctx, set+"-auth-00", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	v := verify(t, w, set, content, secretValue)
	for _, want := range []struct {
		what  string
		items []string
		needs string
	}{
		{"mixed", v.mixed, `work pool "` + pool0 + `": description`},
		{"mixed", v.mixed, `ClusterRole ` + set + `-flow-runner: rules`},
		{"lost", v.lost, `work queue "etl" in pool "` + pool1 + `"`},
		{"lost", v.lost, `Secret ` + set + `/` + set + `-auth-00`},
		{"duplicated", v.duplicated, `work pool "` + extra + `" is not in the file`},
	} {
		found := false
		for _, item := range want.items {
			found = found || strings.HasPrefix(item, want.needs)
		}
		if !found {
			t.Errorf("verify missed an out-of-band change: no %s entry %q in %q", want.what, want.needs, want.items)
		}
	}
	if n := len(v.mixed) + len(v.lost) + len(v.duplicated); n != 5 {
		t.Errorf("verify reported %d problems for 5 changes: lost %q, duplicated %q, mixed %q", n, v.lost, v.duplicated, v.mixed)
	} else {
		t.Logf("verify found the 5 out-of-band changes:\n  %s", strings.Join(append(append(v.lost, v.duplicated...), v.mixed...), "\n  "))
	}
}
