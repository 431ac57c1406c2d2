package faults

import (
	"fmt"
	"strings"

	"github.com/prefect-apply/prefect-apply/test/faultproxy"
)

// figures are one fault kind's numbers over its seeds.
type figures struct {
	kind              faultproxy.Kind
	seeds             int
	syncRuns, syncOK  int
	syncFailedCleanly int
	syncBad           int
	diffRuns, diffBad int
	injected          int
	converged         int
	lost, duplicated  int
	mixed, canaryHits int
}

// table formats the figures, one row per fault kind and a total.
func table(all []*figures) string {
	var b strings.Builder
	head := []string{"fault", "seeds", "sync runs", "faults injected", "succeeded", "failed cleanly", "unclean",
		"diff runs", "diff unclean", "converged", "lost", "duplicated", "mixed", "canary hits"}
	rows := [][]string{head}
	var tot figures
	row := func(name string, f *figures) []string {
		return []string{name, itoa(f.seeds), itoa(f.syncRuns), itoa(f.injected), itoa(f.syncOK), itoa(f.syncFailedCleanly),
			itoa(f.syncBad), itoa(f.diffRuns), itoa(f.diffBad), fmt.Sprintf("%d/%d", f.converged, f.seeds),
			itoa(f.lost), itoa(f.duplicated), itoa(f.mixed), itoa(f.canaryHits)}
	}
	for _, f := range all {
		if f.seeds == 0 {
			continue // not run (go test -run)
		}
		rows = append(rows, row(string(f.kind), f))
		tot.seeds += f.seeds
		tot.syncRuns += f.syncRuns
		tot.injected += f.injected
		tot.syncOK += f.syncOK
		tot.syncFailedCleanly += f.syncFailedCleanly
		tot.syncBad += f.syncBad
		tot.diffRuns += f.diffRuns
		tot.diffBad += f.diffBad
		tot.converged += f.converged
		tot.lost += f.lost
		tot.duplicated += f.duplicated
		tot.mixed += f.mixed
		tot.canaryHits += f.canaryHits
	}
	rows = append(rows, row("total", &tot))
	width := make([]int, len(head))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	for n, r := range rows {
		for i, c := range r {
			if i == 0 {
				fmt.Fprintf(&b, "%-*s", width[i], c)
			} else {
				fmt.Fprintf(&b, "  %*s", width[i], c)
			}
		}
		b.WriteString("\n")
		if n == 0 || n == len(rows)-2 {
			b.WriteString(strings.Repeat("-", sum(width)+2*(len(width)-1)) + "\n")
		}
	}
	return b.String()
}

func itoa(n int) string { return fmt.Sprint(n) }

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
