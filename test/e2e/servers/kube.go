package servers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/testutil/repo"
)

// Kube is a throw-away kube-apiserver (with its own etcd) started by
// hack/kube/start.sh: real authentication, RBAC and server-side apply, but
// no controllers, scheduler or nodes.
type Kube struct {
	// Kubeconfig is the path of a kubeconfig for an admin user (group
	// system:masters).
	Kubeconfig string
	// Host is the API server URL, https://127.0.0.1:<port>.
	Host string
}

var kubeBuild struct {
	once sync.Once
	err  error
}

// Timeouts for the scripts. The first build compiles kube-apiserver from
// source (several minutes when the build cache is cold).
const (
	kubeBuildTimeout = 30 * time.Minute
	kubeStartTimeout = 3 * time.Minute
)

// StartKube builds the kube-apiserver and etcd binaries (once per test
// process, a no-op when they are already in .cache/bin), starts a fresh pair
// and stops it when tb finishes. Skipped in -short mode.
//
// A cold build outlasts go test's default 10-minute timeout: run
// hack/kube/build.sh beforehand or pass -timeout 30m.
func StartKube(tb testing.TB) *Kube {
	tb.Helper()
	if testing.Short() {
		tb.Skip("skipping kube-apiserver end-to-end test in -short mode")
	}
	scripts := repo.Path(tb, "hack", "kube")

	kubeBuild.once.Do(func() {
		kubeBuild.err = runKubeScript(tb, kubeBuildTimeout, nil, filepath.Join(scripts, "build.sh"))
	})
	if kubeBuild.err != nil {
		tb.Fatalf("building kube-apiserver and etcd: %v", kubeBuild.err)
	}

	var out bytes.Buffer
	start := time.Now()
	// KUBE_WATCH_PID makes the servers go away with this process even when
	// it dies without running its cleanups (e.g. on a test timeout).
	env := []string{fmt.Sprintf("KUBE_WATCH_PID=%d", os.Getpid())}
	if err := runKubeScript(tb, kubeStartTimeout, &out, filepath.Join(scripts, "start.sh"), env...); err != nil {
		tb.Fatalf("starting kube-apiserver: %v", err)
	}
	vars := parseKubeEnv(out.String())
	tmp := vars["KUBE_TMP"]
	if tmp != "" {
		tb.Cleanup(func() {
			if err := runKubeScript(tb, time.Minute, nil, filepath.Join(scripts, "stop.sh"), "KUBE_TMP="+tmp); err != nil {
				tb.Errorf("stopping kube-apiserver: %v", err)
			}
		})
	}
	k := &Kube{Kubeconfig: vars["KUBECONFIG"], Host: vars["KUBE_APISERVER_URL"]}
	if tmp == "" || k.Kubeconfig == "" || k.Host == "" {
		tb.Fatalf("start.sh printed no KUBE_TMP, KUBECONFIG or KUBE_APISERVER_URL:\n%s", out.String())
	}
	tb.Logf("kube-apiserver %s ready in %v (state in %s)", k.Host, time.Since(start).Round(time.Millisecond), tmp)
	return k
}

// runKubeScript runs a hack/kube script with extra environment variables.
// Its stdout goes to stdout (or is discarded); its stderr (progress lines,
// server logs on failure) is logged through tb and included in the error.
func runKubeScript(tb testing.TB, timeout time.Duration, stdout io.Writer, script string, env ...string) error {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = nil
	cmd.Stdout = stdout
	cmd.Stderr = &stderr
	// The scripts leave their servers behind on purpose; do not wait for
	// descendants that might still hold a pipe after the script is gone.
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if s := strings.TrimSpace(stderr.String()); s != "" {
		tb.Logf("%s:\n%s", filepath.Base(script), s)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (timeout %v)", err, timeout)
		}
		return fmt.Errorf("%s: %w\n%s", filepath.Base(script), err, kubeLastLines(stderr.String(), 80))
	}
	return nil
}

// parseKubeEnv reads the KEY=VALUE lines printed by start.sh. Values are
// quoted with bash's printf %q, which for paths means backslash escapes.
func parseKubeEnv(s string) map[string]string {
	vars := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		key, val, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || key == "" {
			continue
		}
		var b strings.Builder
		for i := 0; i < len(val); i++ {
			if val[i] == '\\' && i+1 < len(val) {
				i++
			}
			b.WriteByte(val[i])
		}
		vars[key] = b.String()
	}
	return vars
}

func kubeLastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
