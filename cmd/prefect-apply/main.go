// Command prefect-apply makes Prefect work pools, queues and the Kubernetes
// objects their jobs need declarative. The commands live in internal/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/prefect-apply/prefect-apply/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, cli.System(), cli.SystemEnv(), os.Args[1:])
	stop()
	os.Exit(code)
}
