// Command pprof runs prefect-apply in-process with Go's profilers on, to
// find where a whole command spends its time and memory (BENCHMARKS.md):
//
//	go build -o /tmp/pa-pprof ./bench/pprof
//	/tmp/pa-pprof -cpuprofile cpu.out -memprofile mem.out -- diff -f pools.yaml
//	go tool pprof -top -cum /tmp/pa-pprof cpu.out
//
// Everything after -- is prefect-apply's command line; its exit status is
// passed on.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/prefect-apply/prefect-apply/internal/cli"
)

func main() {
	cpu := flag.String("cpuprofile", "", "write a CPU profile to `FILE`")
	mem := flag.String("memprofile", "", "write an allocation profile to `FILE` at exit")
	rate := flag.Int("memprofilerate", 0, "runtime.MemProfileRate (0: the default)")
	flag.Parse()
	if *rate > 0 {
		runtime.MemProfileRate = *rate
	}
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, cli.System(), cli.SystemEnv(), flag.Args())
	stop()
	if *cpu != "" {
		pprof.StopCPUProfile()
	}
	if *mem != "" {
		f, err := os.Create(*mem)
		if err != nil {
			fail(err)
		}
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			fail(err)
		}
		f.Close()
	}
	os.Exit(code)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "pprof:", err)
	os.Exit(1)
}
