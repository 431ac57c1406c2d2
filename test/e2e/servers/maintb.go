package servers

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// MainTB lets a TestMain start servers shared by a package's tests:
// StartPrefect and StartKube want a testing.TB, and TestMain has none. It
// implements the methods they call; Fatal and Skip end the calling
// goroutine, as they do in a test, so start servers in a goroutine of
// their own and check what it returned. Every message goes to stderr with
// Prefix.
type MainTB struct {
	testing.TB // nil: any other method panics
	Prefix     string
	mu         sync.Mutex
	failed     bool
	log        []string
	cleanups   []func()
}

func (m *MainTB) Helper()      {}
func (m *MainTB) Name() string { return "TestMain" }

// Failed reports whether Error or Fatal was called.
func (m *MainTB) Failed() bool { m.mu.Lock(); defer m.mu.Unlock(); return m.failed }

// Cleanup registers f for RunCleanups.
func (m *MainTB) Cleanup(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cleanups = append(m.cleanups, f)
}

func (m *MainTB) Log(args ...any)                   { m.logf("%s", fmt.Sprint(args...)) }
func (m *MainTB) Logf(format string, args ...any)   { m.logf(format, args...) }
func (m *MainTB) Error(args ...any)                 { m.fail("%s", fmt.Sprint(args...)) }
func (m *MainTB) Errorf(format string, args ...any) { m.fail(format, args...) }
func (m *MainTB) Fatal(args ...any)                 { m.fail("%s", fmt.Sprint(args...)); runtime.Goexit() }
func (m *MainTB) Fatalf(format string, args ...any) { m.fail(format, args...); runtime.Goexit() }
func (m *MainTB) Skip(args ...any)                  { m.logf("%s", fmt.Sprint(args...)); runtime.Goexit() }
func (m *MainTB) Skipf(format string, args ...any)  { m.logf(format, args...); runtime.Goexit() }

func (m *MainTB) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	m.mu.Lock()
	m.log = append(m.log, msg)
	m.mu.Unlock()
	fmt.Fprintln(os.Stderr, m.Prefix+msg)
}

func (m *MainTB) fail(format string, args ...any) {
	m.mu.Lock()
	m.failed = true
	m.mu.Unlock()
	m.logf(format, args...)
}

// Messages returns everything logged, one message a line.
func (m *MainTB) Messages() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(m.log, "\n") + "\n"
}

// RunCleanups runs the registered cleanups, last first, once.
func (m *MainTB) RunCleanups() {
	m.mu.Lock()
	fs := m.cleanups
	m.cleanups = nil
	m.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
