package apply_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/apply"
)

// An interrupt lets the change in flight finish (its request is not cut
// off, so the report knows it was applied) and starts nothing more.
func TestExecuteInterruptLetsTheChangeInFlightFinish(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sawCancelled bool
	rec := &recorder{hook: func(ctx context.Context, call string) {
		if strings.HasPrefix(call, "Apply ServiceAccount") {
			cancel()
			time.Sleep(50 * time.Millisecond) // the request takes a while
			sawCancelled = ctx.Err() != nil
		}
	}}
	results := apply.Execute(ctx, scenario(t), rec.targets())
	if sawCancelled {
		t.Error("the change in flight saw its context cancelled by the interrupt")
	}
	if got := rec.log(); len(got) != 2 {
		t.Errorf("calls %q, want the namespace and the service account only", got)
	}
	for i, r := range results {
		want := apply.Skipped
		if i < 2 {
			want = apply.Applied
		}
		if r.Status != want {
			t.Errorf("%s: %s %q, want %s", r.Key, r.Status, r.Error, want)
		}
	}
}

// A change still in flight when the grace runs out is cut off and reported
// as failed, saying that it may have been applied.
func TestExecuteInterruptGraceRunsOut(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{}
	tg := rec.targets()
	tg.Grace = 100 * time.Millisecond
	kube := tg.Kubernetes.(*fakeKube)
	apply0 := kube.ApplyFn
	kube.ApplyFn = func(c context.Context, obj *unstructured.Unstructured, data map[string][]byte) error {
		if obj.GetKind() != "ServiceAccount" {
			return apply0(c, obj, data)
		}
		cancel()
		<-c.Done() // a server that never answers
		return c.Err()
	}
	began := time.Now()
	results := apply.Execute(ctx, scenario(t), tg)
	if d := time.Since(began); d < tg.Grace || d > 5*time.Second {
		t.Errorf("Execute took %s, want the grace (%s) and not much more", d, tg.Grace)
	}
	sa := results[1]
	if sa.Status != apply.Failed || !strings.Contains(sa.Error, "cut off") || !strings.Contains(sa.Error, "may or may not have been applied") {
		t.Errorf("%s: %s %q, want failed, cut off", sa.Key, sa.Status, sa.Error)
	}
	for _, r := range results[2:] {
		if r.Status != apply.Skipped || !errors.Is(r.Err(), apply.ErrInterrupted) {
			t.Errorf("%s: %s %q, want skipped as interrupted", r.Key, r.Status, r.Error)
		}
	}
}
