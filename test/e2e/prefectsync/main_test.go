package prefectsync

import (
	"flag"
	"fmt"
	"os"
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
	tb := &servers.MainTB{Prefix: "prefectsync e2e: "}
	began := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		shared = servers.StartPrefect(tb, servers.PrefectOptions{})
	}()
	<-done
	if shared == nil {
		startErr = tb.Messages()
	} else {
		fmt.Fprintf(os.Stderr, "prefectsync e2e: shared Prefect server at %s started in %s\n", shared.URL, time.Since(began).Round(time.Millisecond))
	}
	code := m.Run()
	tb.RunCleanups()
	if tb.Failed() && code == 0 {
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
