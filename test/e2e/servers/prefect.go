// Package servers starts real servers for end-to-end tests: a Prefect
// server installed into the repository's .cache by hack/prefect/install.sh
// and started by hack/prefect/start.sh.
package servers

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/testutil/repo"
)

// PrefectOptions configures StartPrefect.
type PrefectOptions struct {
	// AuthString, as "user:pass", turns on the server's basic auth
	// (PREFECT_SERVER_API_AUTH_STRING).
	AuthString string
}

// Prefect is a running throwaway Prefect server.
type Prefect struct {
	// URL is the API URL, ending in /api (the value for PREFECT_API_URL).
	URL string
	// Home is the server's temporary PREFECT_HOME; removed on cleanup.
	Home string
	// PID is the server's process id (also its process group id).
	PID int
	// AuthString is the basic-auth "user:pass" the server requires, or "".
	AuthString string
	// LogFile holds the server's stdout and stderr.
	LogFile string
}

// Env returns the environment for running the prefect CLI (or any client)
// against this server: os.Environ() with PREFECT_API_URL and, with auth,
// PREFECT_API_AUTH_STRING set, and PREFECT_HOME pointing into the server's
// temporary home so the caller's profiles are not used.
func (p *Prefect) Env() []string {
	env := make([]string, 0, len(os.Environ())+4)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING", "PREFECT_PROFILE",
			"PREFECT_HOME", "PREFECT_PROFILES_PATH":
			continue
		}
		env = append(env, kv)
	}
	clientHome := filepath.Join(p.Home, "client")
	env = append(env,
		"PREFECT_API_URL="+p.URL,
		"PREFECT_HOME="+clientHome,
		"PREFECT_PROFILES_PATH="+filepath.Join(clientHome, "profiles.toml"),
	)
	if p.AuthString != "" {
		env = append(env, "PREFECT_API_AUTH_STRING="+p.AuthString)
	}
	return env
}

// LogTail returns the last n lines of the server log.
func (p *Prefect) LogTail(n int) string {
	b, err := os.ReadFile(p.LogFile)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.LogFile, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var (
	installOnce sync.Once
	installErr  error
)

// installPrefect runs hack/prefect/install.sh once per process.
func installPrefect(tb testing.TB) {
	tb.Helper()
	root := repo.Root(tb)
	installOnce.Do(func() {
		python := os.Getenv("PYTHON")
		if python == "" {
			python = "python3"
		}
		if _, err := exec.LookPath(python); err != nil {
			installErr = fmt.Errorf("%s is required to run the Prefect server for end-to-end tests "+
				"(install python3 and python3-venv, or set PYTHON): %w", python, err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "prefect", "install.sh"))
		cmd.Dir = root
		cmd.WaitDelay = 10 * time.Second
		out, err := cmd.CombinedOutput()
		if err != nil {
			installErr = fmt.Errorf("hack/prefect/install.sh: %w\n%s", err, out)
		}
	})
	if installErr != nil {
		tb.Fatalf("servers: %v", installErr)
	}
}

// venvPath returns a path inside the installed virtualenv.
func venvPath(tb testing.TB, elem ...string) string {
	tb.Helper()
	installPrefect(tb)
	p := filepath.Join(append([]string{repo.Root(tb), ".cache", "prefect-venv", "bin"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("servers: %v (hack/prefect/install.sh did not produce it)", err)
	}
	return p
}

// PrefectBin returns the path of the pinned prefect CLI, installing it first
// if needed.
func PrefectBin(tb testing.TB) string {
	tb.Helper()
	return venvPath(tb, "prefect")
}

// VenvPython returns the path of the python interpreter of the virtualenv
// that holds the pinned prefect and prefect-kubernetes.
func VenvPython(tb testing.TB) string {
	tb.Helper()
	return venvPath(tb, "python")
}

// StartPrefect starts a fresh Prefect server (SQLite in a temporary home) on
// 127.0.0.1 and stops it when the test ends. It fails the test if the server
// cannot be installed or started. Skipped in -short mode (make unit), like
// StartKube; make test runs it.
func StartPrefect(tb testing.TB, opts PrefectOptions) *Prefect {
	tb.Helper()
	if testing.Short() {
		tb.Skip("skipping the Prefect server end-to-end test in -short mode")
	}
	installPrefect(tb)
	root := repo.Root(tb)

	args := []string{}
	if opts.AuthString != "" {
		args = append(args, "--auth", opts.AuthString)
	}
	var (
		p   *Prefect
		err error
	)
	// The port is picked free by start.sh; retry if another process took it
	// in the meantime.
	for attempt := 0; attempt < 3; attempt++ {
		var stderr string
		p, stderr, err = runStart(root, args)
		if err == nil || !strings.Contains(stderr, "address already in use") {
			break
		}
	}
	if err != nil {
		tb.Fatalf("servers: starting Prefect: %v", err)
	}
	p.AuthString = opts.AuthString
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("Prefect server log (%s), last lines:\n%s", p.LogFile, p.LogTail(30))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "prefect", "stop.sh"),
			strconv.Itoa(p.PID), p.Home)
		cmd.WaitDelay = 5 * time.Second
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Errorf("servers: stopping Prefect (pid %d): %v\n%s", p.PID, err, out)
		}
	})
	return p
}

func runStart(root string, args []string) (*Prefect, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "prefect", "start.sh"), args...)
	cmd.Dir = root
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, stderr.String(), fmt.Errorf("hack/prefect/start.sh: %w\n%s", err, stderr.String())
	}
	vals := map[string]string{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok {
			vals[k] = v
		}
	}
	pid, err := strconv.Atoi(vals["PREFECT_SERVER_PID"])
	if err != nil || vals["PREFECT_API_URL"] == "" || vals["PREFECT_SERVER_HOME"] == "" {
		return nil, stderr.String(), fmt.Errorf("hack/prefect/start.sh: unexpected output:\n%s%s", stdout.String(), stderr.String())
	}
	home := vals["PREFECT_SERVER_HOME"]
	return &Prefect{
		URL:     vals["PREFECT_API_URL"],
		Home:    home,
		PID:     pid,
		LogFile: filepath.Join(home, "server.log"),
	}, stderr.String(), nil
}
