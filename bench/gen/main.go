// Command gen writes a synthetic pools.yaml for the benchmarks (see
// bench/poolsgen):
//
//	go run ./bench/gen -n 1000 -o /tmp/pools-1000.yaml
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/prefect-apply/prefect-apply/bench/poolsgen"
)

func main() {
	var o poolsgen.Options
	out := flag.String("o", "-", "output `FILE` (- for stdout)")
	flag.IntVar(&o.Pools, "n", 10, "number of work pools")
	flag.StringVar(&o.Set, "set", "", "ownership set and name prefix (default bench-N)")
	flag.StringVar(&o.SecretEnv, "secret-env", "", "environment variable the Secrets' values come from (default BENCH_PREFECT_AUTH_STRING)")
	flag.IntVar(&o.PoolsPerAccount, "pools-per-account", 10, "pools sharing one service account and Secret")
	flag.Parse()
	if o.Pools < 1 {
		fmt.Fprintln(os.Stderr, "gen: -n must be at least 1")
		os.Exit(2)
	}
	var w io.Writer = os.Stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		defer f.Close()
		w = f
	}
	if err := poolsgen.Write(w, o); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
