package faults

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

type outcome int

const (
	bad outcome = iota
	succeeded
	failedWithReport
	failedBeforeApplying
)

type syncCheck struct {
	outcome outcome
	summary string
	// failed are the report's failed lines.
	failed []string
}

var (
	planLine = regexp.MustCompile(`(?m)^Plan: (\d+) to create, (\d+) to update, (\d+) to replace, (\d+) to delete\.`)
	syncLine = regexp.MustCompile(`(?m)^Sync: (\d+) applied, (\d+) failed, (\d+) skipped\.$`)
	// A result line: the object, then how its change ended.
	resultLine = regexp.MustCompile(`(?m)^((?:work pool|work queue|[A-Z][A-Za-z]+) "[^"\n]*"(?: in pool "[^"\n]*")?): (.*)$`)
	applied    = regexp.MustCompile(`^(?:created|updated|replaced|deleted|created with its pool) \(\d`)
	failedRe   = regexp.MustCompile(`^(?:create|update|replace|delete) failed: `)
	skippedRe  = regexp.MustCompile(`^(?:create|update|replace|delete) skipped: `)
	listLine   = regexp.MustCompile(`(?m)^(Failed|Skipped): +(.*)$`)
)

// panicked reports a Go panic or a goroutine dump in output.
func panicked(s string) string {
	for _, mark := range []string{"panic:", "goroutine ", "runtime error", "[recovered]"} {
		if strings.Contains(s, mark) {
			return fmt.Sprintf("output holds %q", mark)
		}
	}
	return ""
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// checkSync classifies a sync: exit 0 with everything applied; exit 1 with
// a report whose counts match its lines and the plan; or exit 1 with an
// error before anything was applied (reading the servers or recording the
// inventory failed). Anything else is bad.
func checkSync(code int, out, errOut string) syncCheck {
	all := out + "\n" + errOut
	badf := func(format string, args ...any) syncCheck {
		return syncCheck{outcome: bad, summary: fmt.Sprintf("exit %d: ", code) + fmt.Sprintf(format, args...)}
	}
	if msg := panicked(all); msg != "" {
		return badf("%s", msg)
	}
	if code != 0 && code != 1 {
		return badf("sync exits 0 or 1")
	}

	// The plan, the result lines and the summary.
	planned := -1
	if m := planLine.FindStringSubmatch(out); m != nil {
		planned = atoi(m[1]) + atoi(m[2]) + atoi(m[3]) + atoi(m[4])
	}
	lines := map[string][]string{}
	var failedLines []string
	for _, m := range resultLine.FindAllStringSubmatch(out, -1) {
		switch rest := m[2]; {
		case applied.MatchString(rest):
			lines["applied"] = append(lines["applied"], m[1])
		case failedRe.MatchString(rest):
			lines["failed"] = append(lines["failed"], m[1])
			failedLines = append(failedLines, m[0])
		case skippedRe.MatchString(rest):
			lines["skipped"] = append(lines["skipped"], m[1])
		}
	}
	results := len(lines["applied"]) + len(lines["failed"]) + len(lines["skipped"])
	sum := syncLine.FindStringSubmatch(out)

	if sum == nil {
		if results > 0 {
			return badf("%d result lines but no summary", results)
		}
		switch {
		case code == 0 && strings.Contains(out, "No changes"):
			return syncCheck{outcome: succeeded, summary: "exit 0, no changes"}
		case code == 1 && strings.Contains(errOut, "Error: "):
			first, _, _ := strings.Cut(errOut[strings.Index(errOut, "Error: "):], "\n")
			return syncCheck{outcome: failedBeforeApplying, summary: "exit 1 before applying: " + clip(first, 160)}
		}
		return badf("neither a report nor an error")
	}
	a, f, s := atoi(sum[1]), atoi(sum[2]), atoi(sum[3])
	if len(lines["applied"]) != a || len(lines["failed"]) != f || len(lines["skipped"]) != s {
		return badf("summary says %d applied, %d failed, %d skipped; the lines say %d, %d, %d",
			a, f, s, len(lines["applied"]), len(lines["failed"]), len(lines["skipped"]))
	}
	if planned != a+f+s {
		return badf("the plan has %d changes, the report %d", planned, a+f+s)
	}
	// The lists under the summary name exactly the failed and skipped objects.
	lists := map[string]string{}
	for _, m := range listLine.FindAllStringSubmatch(out, -1) {
		lists[strings.ToLower(m[1])] = m[2]
	}
	for _, status := range []string{"failed", "skipped"} {
		want := strings.Join(lines[status], ", ")
		if lists[status] != want && !sameSet(lists[status], want) {
			return badf("%s list %q, result lines %q", status, clip(lists[status], 200), clip(want, 200))
		}
	}
	switch {
	case code == 0 && f+s == 0:
		return syncCheck{outcome: succeeded, summary: fmt.Sprintf("exit 0, %d applied", a)}
	case code == 1 && f+s > 0:
		if !strings.Contains(out, "Not everything was applied") {
			return badf("a partial report without its closing advice")
		}
		return syncCheck{outcome: failedWithReport, summary: fmt.Sprintf("exit 1, %d applied, %d failed, %d skipped", a, f, s), failed: failedLines}
	}
	return badf("%d failed and %d skipped", f, s)
}

func sameSet(a, b string) bool {
	split := func(s string) map[string]int {
		m := map[string]int{}
		if s == "" {
			return m
		}
		for _, x := range strings.Split(s, ", ") {
			m[x]++
		}
		return m
	}
	ma, mb := split(a), split(b)
	if len(ma) != len(mb) {
		return false
	}
	for k, n := range ma {
		if mb[k] != n {
			return false
		}
	}
	return true
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
