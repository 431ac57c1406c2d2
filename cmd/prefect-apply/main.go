// Command prefect-apply makes Prefect work pools, queues and the Kubernetes
// objects their jobs need declarative. The commands live in internal/cli.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/prefect-apply/prefect-apply/internal/cli"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go stopOnSignals(signals, cancel, os.Stderr, os.Exit)
	code := cli.Run(ctx, cli.System(), cli.SystemEnv(), os.Args[1:])
	signal.Stop(signals)
	os.Exit(code)
}

// stopOnSignals handles SIGINT and SIGTERM as kubectl and terraform users
// expect: the first cancels ctx (sync starts no new change and lets the
// requests in flight finish, then reports), the second exits at once.
func stopOnSignals(signals <-chan os.Signal, cancel context.CancelFunc, stderr io.Writer, exit func(int)) {
	s := <-signals
	fmt.Fprintf(stderr, "\nSignal received, %s: stopping. Nothing new is started; the requests in flight finish. %s again to stop at once.\n", signalName(s), again(s))
	cancel()
	s = <-signals
	fmt.Fprintf(stderr, "\nSecond signal, %s: stopped at once. Changes that were in flight may or may not have been applied; run sync again to converge.\n", signalName(s))
	exit(128 + signalNumber(s))
}

func signalName(s os.Signal) string {
	if s == syscall.SIGTERM {
		return "terminated (SIGTERM)"
	}
	return "interrupted (SIGINT)"
}

func again(s os.Signal) string {
	if s == syscall.SIGTERM {
		return "Send SIGTERM or SIGINT"
	}
	return "Press Ctrl-C"
}

// signalNumber gives the shell's exit status for a signal: 130 for SIGINT,
// 143 for SIGTERM.
func signalNumber(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return int(n)
	}
	return int(syscall.SIGINT)
}
