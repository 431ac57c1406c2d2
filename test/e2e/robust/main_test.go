package robust

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

// The binary and the servers the tests share; nil in -short mode or when
// they could not be built or started (startErr says why).
var (
	binary     string
	sharedPf   *servers.Prefect
	sharedKube *servers.Kube
	startErr   string
)

// soak reports whether the long variants run (make soak).
func soak() bool { return os.Getenv("PREFECT_APPLY_SOAK") == "1" }

// figures are the counts the tests report at the end of the run, one line
// per test, for make soak's output.
var figures struct {
	sync.Mutex
	lines map[string]string
}

func figure(test, format string, args ...any) {
	figures.Lock()
	defer figures.Unlock()
	if figures.lines == nil {
		figures.lines = map[string]string{}
	}
	figures.lines[test] = fmt.Sprintf(format, args...)
}

func printFigures() {
	figures.Lock()
	defer figures.Unlock()
	names := make([]string, 0, len(figures.lines))
	for n := range figures.lines {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("robust figures: %s: %s\n", n, figures.lines[n])
	}
}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	tb := &mainTB{}
	began := time.Now()
	dir, err := os.MkdirTemp("", "prefect-apply-robust-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		binary = build(tb, dir)
	}()
	go func() {
		defer wg.Done()
		sharedPf = servers.StartPrefect(tb, servers.PrefectOptions{})
	}()
	go func() {
		defer wg.Done()
		sharedKube = servers.StartKube(tb)
	}()
	wg.Wait()
	if binary == "" || sharedPf == nil || sharedKube == nil {
		startErr = tb.messages()
	} else {
		fmt.Fprintf(os.Stderr, "robust e2e: binary built, Prefect at %s and kube-apiserver at %s ready in %s\n",
			sharedPf.URL, sharedKube.Host, time.Since(began).Round(time.Millisecond))
	}
	code := m.Run()
	printFigures()
	tb.runCleanups()
	os.RemoveAll(dir)
	if tb.Failed() && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// build compiles the real binary once, as users run it.
func build(tb testing.TB, dir string) string {
	root := servers.RepoRoot(tb)
	out := filepath.Join(dir, "prefect-apply")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/prefect-apply")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/prefect-apply: %v\n%s", err, msg)
	}
	return out
}

// shared returns the binary and the servers, skipping in -short mode.
func shared(t *testing.T) (string, *servers.Prefect, *servers.Kube) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the real binary against a real Prefect server and kube-apiserver")
	}
	if startErr != "" {
		t.Fatalf("the shared binary or servers are missing:\n%s", startErr)
	}
	return binary, sharedPf, sharedKube
}

// mainTB lets TestMain use the servers package, which wants a testing.TB.
// Fatal ends the calling goroutine, as it does in a test.
type mainTB struct {
	testing.TB // nil: any other method panics
	mu         sync.Mutex
	failed     bool
	log        []string
	cleanups   []func()
}

func (m *mainTB) Helper()      {}
func (m *mainTB) Name() string { return "TestMain" }
func (m *mainTB) Failed() bool { m.mu.Lock(); defer m.mu.Unlock(); return m.failed }
func (m *mainTB) Cleanup(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cleanups = append(m.cleanups, f)
}
func (m *mainTB) Log(args ...any)                   { m.logf("%s", fmt.Sprint(args...)) }
func (m *mainTB) Logf(format string, args ...any)   { m.logf(format, args...) }
func (m *mainTB) Error(args ...any)                 { m.fail("%s", fmt.Sprint(args...)) }
func (m *mainTB) Errorf(format string, args ...any) { m.fail(format, args...) }
func (m *mainTB) Fatal(args ...any)                 { m.fail("%s", fmt.Sprint(args...)); runtime.Goexit() }
func (m *mainTB) Fatalf(format string, args ...any) { m.fail(format, args...); runtime.Goexit() }
func (m *mainTB) Skip(args ...any)                  { m.fail("%s", fmt.Sprint(args...)); runtime.Goexit() }
func (m *mainTB) Skipf(format string, args ...any)  { m.fail(format, args...); runtime.Goexit() }

func (m *mainTB) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	m.mu.Lock()
	m.log = append(m.log, msg)
	m.mu.Unlock()
}

func (m *mainTB) fail(format string, args ...any) {
	m.mu.Lock()
	m.failed = true
	m.mu.Unlock()
	m.logf(format, args...)
	fmt.Fprintln(os.Stderr, "robust e2e:", fmt.Sprintf(format, args...))
}

func (m *mainTB) messages() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := ""
	for _, l := range m.log {
		out += l + "\n"
	}
	return out
}

func (m *mainTB) runCleanups() {
	m.mu.Lock()
	fs := m.cleanups
	m.cleanups = nil
	m.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
