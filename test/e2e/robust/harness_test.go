package robust

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/render"
	"github.com/prefect-apply/prefect-apply/internal/state"
	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

// runTimeout bounds one run of the binary.
const runTimeout = 3 * time.Minute

// env runs the real binary for one test, with an environment of its own
// (nothing of the machine's Prefect or Kubernetes settings leaks in).
type env struct {
	t       *testing.T
	bin     string
	prefect *servers.Prefect
	kube    *servers.Kube
	dyn     dynamic.Interface
	dir     string
	vars    map[string]string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	bin, p, k := shared(t)
	dir := t.TempDir()
	return &env{t: t, bin: bin, prefect: p, kube: k, dyn: k.Dynamic(t), dir: dir, vars: map[string]string{
		"PREFECT_API_URL": p.URL,
		"KUBECONFIG":      k.Kubeconfig,
		"HOME":            dir,
		"PATH":            os.Getenv("PATH"),
	}}
}

func (e *env) environ() []string {
	out := make([]string, 0, len(e.vars))
	for k, v := range e.vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func (e *env) write(name, content string) string {
	e.t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// run runs the binary to the end.
func (e *env) run(args ...string) (code int, stdout, stderr string) {
	e.t.Helper()
	p := e.start(args...)
	return p.wait()
}

// must runs the binary and fails the test unless it exits with want.
func (e *env) must(want int, args ...string) (stdout, stderr string) {
	e.t.Helper()
	code, stdout, stderr := e.run(args...)
	if code != want {
		e.t.Fatalf("prefect-apply %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, tail(stdout, 60), tail(stderr, 60))
	}
	return stdout, stderr
}

// proc is a running prefect-apply whose stderr is read line by line.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	args   []string
	stdout bytes.Buffer
	began  time.Time

	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every new line
	done    chan struct{} // closed when stderr is read to the end
}

func (e *env) start(args ...string) *proc {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	e.t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = e.environ()
	cmd.Dir = e.dir
	p := &proc{t: e.t, cmd: cmd, args: args, changed: make(chan struct{}), done: make(chan struct{})}
	cmd.Stdout = &p.stdout
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	cmd.WaitDelay = 10 * time.Second
	p.began = time.Now()
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go p.read(errPipe)
	return p
}

func (p *proc) read(r io.Reader) {
	defer close(p.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
}

// waitFor waits until pred holds for the stderr lines so far; false when
// the process ended first or the timeout passed.
func (p *proc) waitFor(timeout time.Duration, pred func(lines []string) bool) bool {
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		ok := pred(p.lines)
		changed := p.changed
		p.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-p.done:
			p.mu.Lock()
			defer p.mu.Unlock()
			return pred(p.lines)
		case <-deadline:
			return false
		}
	}
}

func (p *proc) signal(s os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		p.t.Fatalf("signalling prefect-apply (pid %d): %v", p.cmd.Process.Pid, err)
	}
}

// wait waits for the process and returns its exit code and output. A
// process killed by a signal exits 128+signal, as in a shell.
func (p *proc) wait() (int, string, string) {
	p.t.Helper()
	<-p.done
	err := p.cmd.Wait()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			p.t.Fatalf("prefect-apply %s: %v", strings.Join(p.args, " "), err)
		}
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	}
	p.t.Logf("prefect-apply %s: exit %d in %s", strings.Join(p.args, " "), code, time.Since(p.began).Round(time.Millisecond))
	p.mu.Lock()
	defer p.mu.Unlock()
	return code, p.stdout.String(), strings.Join(p.lines, "\n")
}

// countApplied counts progress lines of applied changes.
func countApplied(lines []string) int {
	n := 0
	for _, l := range lines {
		if appliedLine(l) {
			n++
		}
	}
	return n
}

func appliedLine(l string) bool {
	for _, s := range []string{": created (", ": created with its pool (", ": updated (", ": deleted (", ": replaced ("} {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// keysWith returns the keys of the changes with the given action.
func keysWith(d render.PlanDocument, action plan.Action) []state.Key {
	var out []state.Key
	for _, c := range d.Changes {
		if c.Action == action {
			out = append(out, c.Key)
		}
	}
	state.SortKeys(out)
	return out
}

// outcome is how a sync's progress lines reported one change.
type outcome string

const (
	applied     outcome = "applied"
	interrupted outcome = "skipped: interrupted"
	failed      outcome = "failed"
	skipped     outcome = "skipped"
	unreported  outcome = "not reported"
)

// outcomes reads the progress lines of a sync for each planned change.
func outcomes(changes []render.ChangeJSON, stderr string) map[state.Key]outcome {
	lines := strings.Split(stderr, "\n")
	out := map[state.Key]outcome{}
	for _, c := range changes {
		if c.Action == "no-op" || c.Action == "orphan" || c.Action == "unmanaged" {
			continue
		}
		prefix := render.Object(c.Key) + ": "
		o := unreported
		for _, l := range lines {
			if !strings.HasPrefix(l, prefix) {
				continue
			}
			rest := l[len(prefix):]
			switch {
			case appliedLine(l):
				o = applied
			case strings.HasPrefix(rest, string(c.Action)+" skipped: not started: interrupted"):
				o = interrupted
			case strings.HasPrefix(rest, string(c.Action)+" skipped: "):
				o = skipped
			case strings.HasPrefix(rest, string(c.Action)+" failed: "):
				o = failed
			default:
				continue
			}
			break
		}
		out[c.Key] = o
	}
	return out
}

// api reads and writes the Prefect server over plain HTTP, independently
// of prefect-apply.
type api struct {
	t      *testing.T
	server *servers.Prefect
}

func (e *env) api() api { return api{t: e.t, server: e.prefect} }

// do sends a request (see servers.Prefect.Request) and returns the status.
func (a api) do(method, path string, body, out any) int {
	a.t.Helper()
	return a.server.Request(a.t, method, path, body, out)
}

type livePool struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	Type             string         `json:"type"`
	Description      *string        `json:"description"`
	ConcurrencyLimit *int           `json:"concurrency_limit"`
	BaseJobTemplate  map[string]any `json:"base_job_template"`
}

type liveQueue struct {
	ID               string  `json:"id"`
	Name             string  `json:"name"`
	Description      *string `json:"description"`
	Priority         int     `json:"priority"`
	ConcurrencyLimit *int    `json:"concurrency_limit"`
}

// pool reads a pool by name; ok is false on 404.
func (a api) pool(name string) (livePool, bool) {
	a.t.Helper()
	var p livePool
	switch st := a.do("GET", "/work_pools/"+url.PathEscape(name), nil, &p); st {
	case http.StatusOK:
		return p, true
	case http.StatusNotFound:
		return p, false
	default:
		a.t.Fatalf("GET work pool %q: %d", name, st)
	}
	return p, false
}

// queue reads a queue by name; ok is false on 404.
func (a api) queue(pool, name string) (liveQueue, bool) {
	a.t.Helper()
	var q liveQueue
	switch st := a.do("GET", "/work_pools/"+url.PathEscape(pool)+"/queues/"+url.PathEscape(name), nil, &q); st {
	case http.StatusOK:
		return q, true
	case http.StatusNotFound:
		return q, false
	default:
		a.t.Fatalf("GET work queue %q in %q: %d", name, pool, st)
	}
	return q, false
}

// queues lists a pool's queues by name.
func (a api) queues(pool string) map[string]liveQueue {
	a.t.Helper()
	var qs []liveQueue
	if st := a.do("POST", "/work_pools/"+url.PathEscape(pool)+"/queues/filter", map[string]any{}, &qs); st != http.StatusOK {
		a.t.Fatalf("listing the queues of %q: %d", pool, st)
	}
	out := map[string]liveQueue{}
	for _, q := range qs {
		out[q.Name] = q
	}
	return out
}

func (a api) createPool(name, typ string) {
	a.t.Helper()
	if st := a.do("POST", "/work_pools/", map[string]any{"name": name, "type": typ}, nil); st != http.StatusCreated {
		a.t.Fatalf("creating work pool %q: %d", name, st)
	}
}

func (a api) createQueue(pool, name string) {
	a.t.Helper()
	if st := a.do("POST", "/work_pools/"+url.PathEscape(pool)+"/queues", map[string]any{"name": name}, nil); st != http.StatusCreated {
		a.t.Fatalf("creating work queue %q in %q: %d", name, pool, st)
	}
}

// inventory reads a set's ownership records: the keys its variables list.
func (a api) inventory(set string) map[state.Key]bool {
	a.t.Helper()
	var vars []struct {
		Name  string `json:"name"`
		Value struct {
			Pools  []string    `json:"pools"`
			Queues [][2]string `json:"queues"`
		} `json:"value"`
	}
	prefix := "prefect-apply_" + set + "_"
	if st := a.do("POST", "/variables/filter", map[string]any{"variables": map[string]any{"name": map[string]any{"like_": prefix}}}, &vars); st != http.StatusOK {
		a.t.Fatalf("listing variables: %d", st)
	}
	out := map[state.Key]bool{}
	for _, v := range vars {
		if !strings.HasPrefix(v.Name, prefix) {
			continue
		}
		for _, p := range v.Value.Pools {
			out[state.PoolKey(p)] = true
		}
		for _, q := range v.Value.Queues {
			out[state.QueueKey(q[0], q[1])] = true
		}
	}
	return out
}

// kinds are the Kubernetes kinds prefect-apply manages (state.Kinds), by
// name.
var kinds = func() map[string]schema.GroupVersionResource {
	out := map[string]schema.GroupVersionResource{}
	for _, k := range state.Kinds {
		out[k.Kind] = schema.GroupVersionResource{Group: k.Group, Version: k.Version, Resource: k.Resource}
	}
	return out
}()

func (e *env) resource(kind, namespace string) dynamic.ResourceInterface {
	e.t.Helper()
	gvr, ok := kinds[kind]
	if !ok {
		e.t.Fatalf("kind %s is not managed", kind)
	}
	if namespace == "" {
		return e.dyn.Resource(gvr)
	}
	return e.dyn.Resource(gvr).Namespace(namespace)
}

// object reads a Kubernetes object; ok is false when it does not exist.
func (e *env) object(k state.Key) (*unstructured.Unstructured, bool) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o, err := e.resource(k.Kind, k.Namespace).Get(ctx, k.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		e.t.Fatalf("reading %s: %v", k, err)
	}
	return o, true
}

// createObject creates a Kubernetes object by hand (another field manager).
func (e *env) createObject(o *unstructured.Unstructured) *unstructured.Unstructured {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := e.resource(o.GetKind(), o.GetNamespace()).Create(ctx, o, metav1.CreateOptions{FieldManager: "kubectl-create"})
	if err != nil {
		e.t.Fatalf("creating %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
	}
	return got
}

func kubeKey(kind, namespace, name string) state.Key {
	return state.Key{System: state.Kubernetes, Group: kinds[kind].Group, Kind: kind, Namespace: namespace, Name: name}
}
