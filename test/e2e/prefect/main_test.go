package prefect

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

// shared is the server the tests share; nil in -short mode or when it could
// not be started (startErr says why).
var (
	shared   *servers.Prefect
	startErr string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	tb := &mainTB{}
	began := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		shared = servers.StartPrefect(tb, servers.PrefectOptions{})
	}()
	<-done
	if shared == nil {
		startErr = tb.messages()
	} else {
		fmt.Fprintf(os.Stderr, "prefect e2e: shared Prefect server at %s started in %s\n", shared.URL, time.Since(began).Round(time.Millisecond))
	}
	code := m.Run()
	tb.failed = tb.failed || code != 0
	tb.runCleanups()
	if tb.failed && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// server returns the shared Prefect server, skipping in -short mode.
func server(t *testing.T) *servers.Prefect {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real Prefect server")
	}
	if shared == nil {
		t.Fatalf("the shared Prefect server did not start:\n%s", startErr)
	}
	return shared
}

// mainTB lets TestMain use servers.StartPrefect, which wants a testing.TB:
// it implements the methods the servers package calls. Fatal ends the
// calling goroutine, as it does in a test.
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
func (m *mainTB) Log(args ...any)                 { m.logf("%s", fmt.Sprint(args...)) }
func (m *mainTB) Logf(format string, args ...any) { m.logf(format, args...) }
func (m *mainTB) Error(args ...any)               { m.fail("%s", fmt.Sprint(args...)) }
func (m *mainTB) Errorf(format string, args ...any) {
	m.fail(format, args...)
}
func (m *mainTB) Fatal(args ...any) { m.fail("%s", fmt.Sprint(args...)); runtime.Goexit() }
func (m *mainTB) Fatalf(format string, args ...any) {
	m.fail(format, args...)
	runtime.Goexit()
}
func (m *mainTB) Skip(args ...any) { m.logf("%s", fmt.Sprint(args...)); runtime.Goexit() }
func (m *mainTB) Skipf(format string, args ...any) {
	m.logf(format, args...)
	runtime.Goexit()
}

func (m *mainTB) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	m.mu.Lock()
	m.log = append(m.log, msg)
	m.mu.Unlock()
	fmt.Fprintln(os.Stderr, "prefect e2e:", msg)
}

func (m *mainTB) fail(format string, args ...any) {
	m.mu.Lock()
	m.failed = true
	m.mu.Unlock()
	m.logf(format, args...)
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
