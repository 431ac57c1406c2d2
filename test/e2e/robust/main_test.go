package robust

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/testutil/repo"
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
	tb := &servers.MainTB{Prefix: "robust e2e: "}
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
		startErr = tb.Messages()
	} else {
		fmt.Fprintf(os.Stderr, "robust e2e: binary built, Prefect at %s and kube-apiserver at %s ready in %s\n",
			sharedPf.URL, sharedKube.Host, time.Since(began).Round(time.Millisecond))
	}
	code := m.Run()
	printFigures()
	tb.RunCleanups()
	os.RemoveAll(dir)
	if tb.Failed() && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// build compiles the real binary once, as users run it.
func build(tb testing.TB, dir string) string {
	root := repo.Root(tb)
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
