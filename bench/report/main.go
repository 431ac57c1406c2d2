// Command report turns the records bench/run.sh collected (one JSON line
// per measured run, from bench/measure) into the Markdown tables of
// BENCHMARKS.md and checks the targets of the benchmark issue.
//
//	go run ./bench/report -results results.jsonl [-gobench go-bench.txt]
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

type record struct {
	Tags     map[string]string         `json:"tags"`
	Wall     float64                   `json:"wall_s"`
	MaxRSS   int64                     `json:"maxrss_kb"`
	User     float64                   `json:"user_s"`
	Sys      float64                   `json:"sys_s"`
	Exit     int                       `json:"exit"`
	Requests map[string]int            `json:"requests"`
	Routes   map[string]map[string]int `json:"routes"`
}

// runs are the records of one (N, what) pair.
type runs []record

func (rs runs) ok() bool {
	if len(rs) == 0 {
		return false
	}
	for _, r := range rs {
		if r.Exit != 0 {
			return false
		}
	}
	return true
}

func (rs runs) median(f func(record) float64) float64 {
	if len(rs) == 0 {
		return math.NaN()
	}
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (rs runs) wall() float64 { return rs.median(func(r record) float64 { return r.Wall }) }
func (rs runs) cpu() float64  { return rs.median(func(r record) float64 { return r.User + r.Sys }) }

// rss is the largest peak resident set of all runs, in MB.
func (rs runs) rss() float64 {
	var m int64
	for _, r := range rs {
		m = max(m, r.MaxRSS)
	}
	if len(rs) == 0 {
		return math.NaN()
	}
	return float64(m) / 1024
}

// requests of a server in the first run (every run sends the same).
func (rs runs) requests(server string) (int, bool) {
	for _, r := range rs {
		if n, ok := r.Requests[server]; ok {
			return n, true
		}
	}
	return 0, false
}

type results struct {
	by    map[int]map[string]runs
	sizes []int
	meta  map[string]string
}

func load(path string) (*results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res := &results{by: map[int]map[string]runs{}, meta: map[string]string{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4<<20), 4<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if r.Tags["what"] == "meta" {
			for k, v := range r.Tags {
				res.meta[k] = v
			}
			continue
		}
		n, err := strconv.Atoi(r.Tags["n"])
		if err != nil {
			return nil, fmt.Errorf("%s: record without n: %s", path, sc.Text())
		}
		if res.by[n] == nil {
			res.by[n] = map[string]runs{}
			res.sizes = append(res.sizes, n)
		}
		res.by[n][r.Tags["what"]] = append(res.by[n][r.Tags["what"]], r)
	}
	sort.Ints(res.sizes)
	return res, sc.Err()
}

func secs(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v < 1:
		return fmt.Sprintf("%.0f ms", v*1000)
	case v < 100:
		return fmt.Sprintf("%.2f s", v)
	}
	return fmt.Sprintf("%.0f s", v)
}

func mb(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.0f MB", v)
}

func ratio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	if v < 10 {
		return fmt.Sprintf("%.1f×", v)
	}
	return fmt.Sprintf("%.0f×", v)
}

// cell is a measurement, flagged when a run failed.
func cell(rs runs, s string) string {
	if len(rs) == 0 {
		return "–"
	}
	if !rs.ok() {
		return s + " (exit " + strconv.Itoa(rs[0].Exit) + ")"
	}
	return s
}

func reqs(rs runs) string {
	p, okP := rs.requests("Prefect")
	k, okK := rs.requests("Kubernetes")
	switch {
	case okP && okK:
		return fmt.Sprintf("%d / %d", p, k)
	case okP:
		return fmt.Sprintf("%d / –", p)
	}
	return "–"
}

var baselines = []struct{ what, label string }{
	{"cli-loop", "`prefect work-pool inspect` + `prefect work-queue ls --pool`, per pool"},
	{"async-per-pool", "read_async.py --queues per-pool (async client, gather)"},
	{"async-filter", "read_async.py --queues filter (async client, paged filters)"},
	{"server-floor", "floor: diff's Prefect requests sent with curl, nothing decoded"},
}

func main() {
	resultsPath := flag.String("results", "", "results.jsonl from bench/run.sh")
	goBench := flag.String("gobench", "", "output of go test -bench (optional)")
	flag.Parse()
	res, err := load(*resultsPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	w := os.Stdout
	res.machine(w)
	res.prefectApply(w)
	res.firstDiff(w)
	res.baselines(w)
	res.routes(w)
	if *goBench != "" {
		if data, err := os.ReadFile(*goBench); err == nil {
			fmt.Fprintf(w, "\n### Go benchmarks (pure parts, N = 1000)\n\n```\n%s```\n", goBenchLines(string(data)))
		}
	}
	res.targets(w)
}

func (res *results) machine(w io.Writer) {
	m := res.meta
	fmt.Fprintf(w, "Machine: %s CPUs (%s), %s memory; %s; Prefect %s; commit %s; %s.\n",
		m["nproc"], m["cpu"], m["memory"], m["go"], m["prefect"], m["commit"], m["date"])
	fmt.Fprintf(w, "Load average (1, 5, 15 min) at the start: %s", m["load_start"])
	for _, n := range res.sizes {
		if b := m[fmt.Sprintf("load_before_%d", n)]; b != "" {
			fmt.Fprintf(w, "; N = %d: %s before, %s after", n, b, m[fmt.Sprintf("load_after_%d", n)])
		}
	}
	if t := m["total_s"]; t != "" {
		fmt.Fprintf(w, "; whole run %s s", t)
	}
	fmt.Fprintf(w, ".\n\n")
}

func (res *results) prefectApply(w io.Writer) {
	fmt.Fprintf(w, "### prefect-apply, whole process (median of the runs; peak RSS the largest)\n\n")
	fmt.Fprintln(w, "| N pools (queues) | validate | validate RSS | sync from empty | sync RSS | sync requests Prefect / Kube | diff in sync | diff CPU | diff RSS | diff requests Prefect / Kube | diff --skip-kubernetes |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, n := range res.sizes {
		m := res.by[n]
		v, s, d, dk := m["validate"], m["sync"], m["diff"], m["diff-skip-kube"]
		syncCell := cell(s, secs(s.wall()))
		if c := res.meta[fmt.Sprintf("sync_concurrency_%d", n)]; c != "" && len(s) > 0 {
			syncCell += " (--concurrency " + c + ")"
		}
		if r := m["sync-rerun"]; len(r) > 0 {
			syncCell += fmt.Sprintf("; %d rerun(s) to converge", len(r))
		}
		fmt.Fprintf(w, "| %d (%d) | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", n, 3*n,
			cell(v, secs(v.wall())), mb(v.rss()),
			syncCell, mb(s.rss()), reqs(s),
			cell(d, secs(d.wall())), secs(d.cpu()), mb(d.rss()), reqs(d),
			cell(dk, secs(dk.wall())))
	}
	fmt.Fprintf(w, "\nRuns per cell: ")
	for _, n := range res.sizes {
		m := res.by[n]
		fmt.Fprintf(w, "N=%d: validate %d, sync %d, diff %d, diff --skip-kubernetes %d. ", n, len(m["validate"]), len(m["sync"]), len(m["diff"]), len(m["diff-skip-kube"]))
	}
	fmt.Fprintln(w)
}

// firstDiff is the table of diff before the first sync: what a pull
// request that adds the file shows, in each output format.
func (res *results) firstDiff(w io.Writer) {
	found := false
	for _, n := range res.sizes {
		if len(res.by[n]["diff-new-text"]) > 0 {
			found = true
		}
	}
	if !found {
		return
	}
	fmt.Fprintf(w, "\n### diff before the first sync (a pull request that adds the file), one run each\n\n")
	fmt.Fprintln(w, "| N | output | wall | CPU | peak RSS | output size |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, n := range res.sizes {
		for _, format := range []string{"text", "json", "markdown"} {
			rs := res.by[n]["diff-new-"+format]
			if len(rs) == 0 {
				continue
			}
			wall := secs(rs.wall())
			if rs[0].Exit != 2 { // changes to show
				wall += " (exit " + strconv.Itoa(rs[0].Exit) + ")"
			}
			size := "–"
			if b, err := strconv.Atoi(res.meta[fmt.Sprintf("diff_new_bytes_%d_%s", n, format)]); err == nil {
				size = fmt.Sprintf("%.0f kB", float64(b)/1000)
			}
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s |\n", n, format, wall, secs(rs.cpu()), mb(rs.rss()), size)
		}
	}
}

func (res *results) baselines(w io.Writer) {
	fmt.Fprintf(w, "\n### Reading the same pools and queues the way users do today (same run, same server)\n\n")
	fmt.Fprintln(w, "Ratio = baseline wall time / `prefect-apply diff` wall time (medians); above 1, prefect-apply is faster. `diff` also reads and dry-runs the Kubernetes objects; the last column compares with `diff --skip-kubernetes`, which reads only what the baselines read. The floor row is no baseline: it is how long the Prefect server takes to answer the requests diff sends, which no client reading the same objects can go below.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| N | baseline | runs | wall | CPU | peak RSS | requests to Prefect | ratio vs diff | ratio vs diff --skip-kubernetes |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, n := range res.sizes {
		m := res.by[n]
		for _, b := range baselines {
			rs := m[b.what]
			if len(rs) == 0 {
				continue
			}
			req := "–"
			if p, ok := rs.requests("Prefect"); ok {
				req = strconv.Itoa(p)
			} else if p, ok := m["diff"].requests("Prefect"); ok && b.what == "server-floor" {
				req = strconv.Itoa(p)
			}
			fmt.Fprintf(w, "| %d | %s | %d | %s | %s | %s | %s | %s | %s |\n", n, b.label, len(rs),
				cell(rs, secs(rs.wall())), secs(rs.cpu()), mb(rs.rss()), req,
				ratio(rs.wall()/m["diff"].wall()), ratio(rs.wall()/m["diff-skip-kube"].wall()))
		}
	}
}

func (res *results) routes(w io.Writer) {
	fmt.Fprintf(w, "\n### Requests per server, verb and kind (`--stats`)\n")
	for _, n := range res.sizes {
		for _, what := range []string{"diff", "sync"} {
			rs := res.by[n][what]
			if len(rs) == 0 || rs[0].Routes == nil {
				continue
			}
			r := rs[0]
			fmt.Fprintf(w, "\n%s, N = %d: ", what, n)
			var servers []string
			for s := range r.Routes {
				servers = append(servers, s)
			}
			sort.Strings(servers)
			var parts []string
			for _, s := range servers {
				var routes []string
				for k := range r.Routes[s] {
					routes = append(routes, k)
				}
				sort.Strings(routes)
				items := make([]string, len(routes))
				for i, k := range routes {
					items[i] = fmt.Sprintf("`%s` %d", k, r.Routes[s][k])
				}
				parts = append(parts, fmt.Sprintf("%s %d (%s)", s, r.Requests[s], strings.Join(items, ", ")))
			}
			fmt.Fprintln(w, strings.Join(parts, "; "))
		}
	}
}

func goBenchLines(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "pkg:") || strings.HasPrefix(line, "cpu:") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func (res *results) targets(w io.Writer) {
	fmt.Fprintf(w, "\n### Targets\n\n| target | figure | |\n|---|---|---|\n")
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	row := func(target, figure string, ok bool) {
		fmt.Fprintf(w, "| %s | %s | %s |\n", target, figure, verdict(ok))
	}
	if d := res.by[1000]["diff"]; len(d) > 0 {
		p, _ := d.requests("Prefect")
		row("≤ 30 requests to Prefect to read everything, N = 1000 (3 queues each)", fmt.Sprintf("%d (diff)", p), d.ok() && p <= 30)
	}
	for _, n := range res.sizes {
		m := res.by[n]
		if cli := m["cli-loop"]; len(cli) > 0 {
			r := cli.wall() / m["diff"].wall()
			row(fmt.Sprintf("diff ≥ 20× faster than the per-pool CLI loop, N = %d", n), ratio(r), cli.ok() && m["diff"].ok() && r >= 20)
		}
	}
	for _, n := range res.sizes {
		m := res.by[n]
		best, name := math.Inf(1), ""
		ok := m["diff"].ok()
		for _, b := range []string{"async-per-pool", "async-filter"} {
			if rs := m[b]; len(rs) > 0 {
				ok = ok && rs.ok()
				if rs.wall() < best {
					best, name = rs.wall(), b
				}
			}
		}
		if name != "" {
			r := best / m["diff"].wall()
			figure := fmt.Sprintf("%s (vs the faster variant, %s)", ratio(r), name)
			if f := m["server-floor"]; len(f) > 0 && r < 3 {
				figure += fmt.Sprintf("; 3× needs diff ≤ %s, and the server alone takes %s to answer diff's Prefect requests", secs(best/3), secs(f.wall()))
			}
			row(fmt.Sprintf("diff ≥ 3× faster than the async-client script, N = %d", n), figure, ok && r >= 3)
		}
	}
	if v := res.by[1000]["validate"]; len(v) > 0 {
		row("validate, 1000 pools: well under a second (taken as ≤ 0.5 s)", secs(v.wall()), v.ok() && v.wall() <= 0.5)
		row("validate, 1000 pools: peak memory < 100 MB", mb(v.rss()), v.ok() && v.rss() < 100)
	}
	if d := res.by[1000]["diff"]; len(d) > 0 {
		row("diff, 1000 pools: peak memory < 200 MB", mb(d.rss()), d.ok() && d.rss() < 200)
	}
}
