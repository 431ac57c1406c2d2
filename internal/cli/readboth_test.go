package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/kube"
	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// slowPrefect and slowKube delay or fail the reads of the in-memory
// servers to show how the two reads of a plan run together.
type slowPrefect struct {
	*memPrefect
	read func(ctx context.Context) error
}

func (p *slowPrefect) ReadState(ctx context.Context) (*state.State, error) {
	if err := p.read(ctx); err != nil {
		return nil, err
	}
	return p.memPrefect.ReadState(ctx)
}

type slowKube struct {
	*memKube
	read func(ctx context.Context) error
}

func (k *slowKube) ReadLive(ctx context.Context, set string, declared []state.Key, namespaces []string) (map[state.Key]*unstructured.Unstructured, error) {
	if err := k.read(ctx); err != nil {
		return nil, err
	}
	return k.memKube.ReadLive(ctx, set, declared, namespaces)
}

func bothSlow(w *memWorld, p, k func(context.Context) error) *Env {
	env := w.env()
	env.NewPrefect = func(prefect.Connection) (PrefectClient, error) { return &slowPrefect{w.prefect, p}, nil }
	env.NewKube = func(kube.Options) (KubeClient, error) { return &slowKube{w.kube, k}, nil }
	return env
}

func runEnv(env *Env, args ...string) (int, string, string) {
	ios, _, out, errOut := Test()
	code := Run(context.Background(), ios, env, args)
	return code, out.String(), errOut.String()
}

// untilDone waits for ctx to end and returns its error, as a client does
// when its read is cancelled.
func untilDone(what string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return errors.New(what + ": " + ctx.Err().Error())
		case <-time.After(10 * time.Second):
			return errors.New(what + " was not cancelled")
		}
	}
}

// The Kubernetes read runs while Prefect is read: each read here waits for
// the other to have started, which only a concurrent pipeline satisfies.
func TestPlanReadsPrefectAndKubernetesTogether(t *testing.T) {
	w := newMemWorld(t)
	w.vars["AUTH"] = "x"
	f := w.write("pools.yaml", secretFile)
	prefectStarted, kubeStarted := make(chan struct{}), make(chan struct{})
	wait := func(mine, other chan struct{}, name string) func(context.Context) error {
		return func(context.Context) error {
			close(mine)
			select {
			case <-other:
				return nil
			case <-time.After(5 * time.Second):
				return errors.New(name + " read alone: the other read did not start")
			}
		}
	}
	env := bothSlow(w, wait(prefectStarted, kubeStarted, "Prefect"), wait(kubeStarted, prefectStarted, "Kubernetes"))
	code, out, errOut := runEnv(env, "diff", "-f", f)
	if code != 2 || !strings.Contains(out, "Plan:") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}

// When one read fails, the other is cancelled and the error shown is the
// failure, not the cancellation it caused.
func TestPlanShowsTheFailedReadNotTheCancelledOne(t *testing.T) {
	fail := func(msg string) func(context.Context) error {
		return func(context.Context) error { return errors.New(msg) }
	}
	for name, c := range map[string]struct {
		prefect, kube func(context.Context) error
		want, not     string
	}{
		"kubernetes fails": {untilDone("reading work pools"), fail("listing Secrets: the cluster is unreachable"), "the cluster is unreachable", "reading work pools"},
		"prefect fails":    {fail("reading work pools: 503 Service Unavailable"), untilDone("listing Secrets"), "503 Service Unavailable", "listing Secrets"},
	} {
		t.Run(name, func(t *testing.T) {
			w := newMemWorld(t)
			w.vars["AUTH"] = "x"
			f := w.write("pools.yaml", secretFile)
			start := time.Now()
			code, out, errOut := runEnv(bothSlow(w, c.prefect, c.kube), "diff", "-f", f)
			if code != 1 || !strings.Contains(errOut, c.want) || strings.Contains(errOut, c.not) || strings.Contains(errOut, "not cancelled") {
				t.Errorf("exit %d, stderr:\n%s\nstdout:\n%s", code, errOut, out)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the other read was not cancelled: %s", d)
			}
		})
	}
}
