package robust

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/state"
	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
)

var summaryLine = regexp.MustCompile(`(?m)^Sync: (\d+) applied, (\d+) failed, (\d+) skipped\.$`)

// A SIGINT or SIGTERM in the middle of a sync: the sync starts nothing new,
// lets the change in flight finish, reports every planned change as applied
// or skipped as interrupted, and exits 1. What it reports applied is on the
// servers as declared; what it skipped is not there (nothing half
// written); every pool that exists is in the set's inventory. The next sync
// applies exactly the rest, and diff then exits 0.
func TestInterruptedSyncReportsAndConverges(t *testing.T) {
	rounds := 1
	if soak() {
		rounds = 5
	}
	var runs, converged, totalApplied, totalSkipped, totalFailed int
	defer func() {
		figure("interrupted syncs", "%d runs (SIGINT and SIGTERM), %d changes applied, %d skipped as interrupted, %d failed, %d of %d converged on the next sync",
			runs, totalApplied, totalSkipped, totalFailed, converged, runs)
	}()
	for _, tc := range []struct {
		name string
		sig  os.Signal
		says string
		// cut is how many Prefect changes are applied before the signal:
		// a few pools, or pools and some queues.
		cut int
	}{
		{"sigint", os.Interrupt, "Signal received, interrupted (SIGINT): stopping.", 4},
		{"sigterm", syscall.SIGTERM, "Signal received, terminated (SIGTERM): stopping.", 17},
	} {
		for round := 0; round < rounds; round++ {
			t.Run(fmt.Sprintf("%s-%d", tc.name, round), func(t *testing.T) {
				e := newEnv(t)
				name := fmt.Sprintf("int-%s-%d", tc.name, round)
				m := bigModel("robust-"+name, "rb-"+name+"-", 12)
				e.vars[m.secretEnv] = "token-" + name
				f := e.write("pools.yaml", m.yaml())
				e.must(0, "validate", "-f", f)
				kubeChanges := 1 + len(m.objects)
				// Stop once the Kubernetes objects and some of the Prefect
				// changes are applied, on a different count each round.
				after := kubeChanges + (tc.cut+round*7)%40

				p := e.start("sync", "-f", f, "--yes", "--concurrency", "1", "-o", "json")
				if !p.waitFor(2*time.Minute, func(l []string) bool { return countApplied(l) >= after }) {
					code, _, stderr := p.wait()
					t.Fatalf("sync ended (exit %d) before %d changes were applied:\n%s", code, after, tail(stderr, 40))
				}
				p.signal(tc.sig)
				code, stdout, stderr := p.wait()
				if code != 1 {
					t.Errorf("exit %d after %v, want 1", code, tc.sig)
				}
				if !strings.Contains(stderr, tc.says) {
					t.Errorf("stderr does not say the run is stopping (%q):\n%s", tc.says, tail(stderr, 20))
				}
				doc := clitest.ParsePlan(t, stdout)
				outs := outcomes(doc.Changes, stderr)
				count := map[outcome]int{}
				for _, c := range doc.Changes {
					if o, ok := outs[c.Key]; ok {
						count[o]++
						if o != applied && o != interrupted {
							t.Errorf("%s: %s, want applied or skipped as interrupted", c.Key, o)
						}
					}
				}
				t.Logf("%d planned changes: %d applied, %d skipped as interrupted", len(outs), count[applied], count[interrupted])
				runs++
				totalApplied += count[applied]
				totalSkipped += count[interrupted]
				totalFailed += len(outs) - count[applied] - count[interrupted]
				if count[applied] < after || count[interrupted] == 0 {
					t.Errorf("applied %d (want at least %d), skipped as interrupted %d (want some)", count[applied], after, count[interrupted])
				}
				if s := summaryLine.FindStringSubmatch(stderr); s == nil {
					t.Errorf("no summary line:\n%s", tail(stderr, 10))
				} else if s[1] != strconv.Itoa(count[applied]) || s[2] != "0" || s[3] != strconv.Itoa(count[interrupted]) {
					t.Errorf("summary %q, want %d applied, 0 failed, %d skipped", s[0], count[applied], count[interrupted])
				}

				// The servers hold what was reported, and only that.
				v := e.inspect(m)
				implicit := map[state.Key]bool{}
				for _, c := range doc.Changes {
					if c.Implicit {
						implicit[c.Key] = true
					}
				}
				for k, o := range outs {
					switch {
					case o == applied && !v.exists[k]:
						t.Errorf("%s: reported applied, missing on the server", k)
					case o == applied && v.differs[k] != "":
						t.Errorf("%s: reported applied, differs from the file: %s", k, v.differs[k])
					case o == interrupted && v.exists[k] && !implicit[k]:
						t.Errorf("%s: reported not applied, exists on the server", k)
					}
				}
				for k, d := range v.differs {
					if !implicit[k] || outs[k] == applied {
						t.Errorf("%s is half written: %s", k, d)
					}
				}
				inv := e.api().inventory(m.set)
				for k := range v.exists {
					if k.System == state.Prefect && !inv[k] {
						t.Errorf("%s exists but is not in the inventory of set %q", k, m.set)
					}
				}

				// The next sync applies the rest, nothing applied twice.
				stdout, _ = e.must(0, "sync", "-f", f, "--yes", "-o", "json")
				again := clitest.ParsePlan(t, stdout)
				for _, c := range again.Changes {
					o := outs[c.Key]
					switch {
					case c.Action == "no-op" && o != applied:
						t.Errorf("%s: a no-op in the second sync, but the first skipped it", c.Key)
					case c.Action != "no-op" && o == applied:
						t.Errorf("%s: %s again, though the first sync applied it", c.Key, c.Action)
					}
				}
				e.must(0, "diff", "-f", f)
				e.requireAll(m)
				if !t.Failed() {
					converged++
				}
			})
		}
	}
}

// freeze stops the Prefect server's processes (SIGSTOP to its process
// group) so that requests hang, until the returned function continues it.
func freeze(t *testing.T, pid int) func() {
	t.Helper()
	if err := syscall.Kill(-pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("stopping the Prefect server: %v", err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			if err := syscall.Kill(-pid, syscall.SIGCONT); err != nil {
				t.Errorf("continuing the Prefect server: %v", err)
			}
		}
	}
	t.Cleanup(thaw)
	return thaw
}

// A second signal stops at once, as kubectl and terraform users expect:
// with the Prefect server hung, the first signal waits for the request in
// flight; the second exits within a second, 128+signal, saying so. The
// next sync converges.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	var stops []string
	defer func() { figure("second signal", "%s", strings.Join(stops, "; ")) }()
	for _, tc := range []struct {
		name          string
		first, second os.Signal
		code          int
	}{
		{"sigint-twice", os.Interrupt, os.Interrupt, 130},
		{"sigterm-twice", syscall.SIGTERM, syscall.SIGTERM, 143},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			name := "second-" + tc.name
			m := bigModel("robust-"+name, "rb-"+name+"-", 6)
			e.vars[m.secretEnv] = "token-" + name
			f := e.write("pools.yaml", m.yaml())
			after := 1 + len(m.objects) + 2

			p := e.start("sync", "-f", f, "--yes", "--concurrency", "1", "-o", "json")
			if !p.waitFor(2*time.Minute, func(l []string) bool { return countApplied(l) >= after }) {
				code, _, stderr := p.wait()
				t.Fatalf("sync ended (exit %d) before %d changes were applied:\n%s", code, after, tail(stderr, 40))
			}
			thaw := freeze(t, e.prefect.PID)
			time.Sleep(300 * time.Millisecond) // the next request is sent, and hangs

			p.signal(tc.first)
			if !p.waitFor(10*time.Second, func(l []string) bool { return strings.Contains(strings.Join(l, "\n"), "again to stop at once") }) {
				t.Errorf("no notice after the first signal")
			}
			// It waits for the request in flight.
			if p.waitFor(time.Second, func([]string) bool { return false }) || isDone(p) {
				t.Fatalf("the first signal ended the run while a request was in flight")
			}
			p.signal(tc.second)
			began := time.Now()
			code, _, stderr := p.wait()
			took := time.Since(began)
			if took > 3*time.Second {
				t.Errorf("the second signal took %s to stop the run", took)
			}
			if code != tc.code {
				t.Errorf("exit %d after the second signal, want %d", code, tc.code)
			}
			if !strings.Contains(stderr, "Second signal") || !strings.Contains(stderr, "stopped at once") || !strings.Contains(stderr, "run sync again") {
				t.Errorf("stderr does not say it stopped at once:\n%s", tail(stderr, 10))
			}
			thaw()
			e.must(0, "sync", "-f", f, "--yes")
			e.must(0, "diff", "-f", f)
			e.requireAll(m)
			stops = append(stops, fmt.Sprintf("%s: exit %d %s after the second signal", tc.name, code, took.Round(time.Millisecond)))
		})
	}
}

func isDone(p *proc) bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// A single signal while the server hangs: the change in flight gets its
// grace (15s), then is cut off and reported as failed, saying it may or may
// not have been applied; everything after it is skipped as interrupted.
func TestInterruptGraceRunsOut(t *testing.T) {
	e := newEnv(t)
	m := bigModel("robust-grace", "rb-grace-", 4)
	e.vars[m.secretEnv] = "token-grace"
	f := e.write("pools.yaml", m.yaml())
	after := 1 + len(m.objects) + 1

	p := e.start("sync", "-f", f, "--yes", "--concurrency", "1", "-o", "json")
	if !p.waitFor(2*time.Minute, func(l []string) bool { return countApplied(l) >= after }) {
		code, _, stderr := p.wait()
		t.Fatalf("sync ended (exit %d) before %d changes were applied:\n%s", code, after, tail(stderr, 40))
	}
	thaw := freeze(t, e.prefect.PID)
	time.Sleep(300 * time.Millisecond)
	p.signal(os.Interrupt)
	began := time.Now()
	code, stdout, stderr := p.wait()
	took := time.Since(began)
	thaw()
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if took < 14*time.Second || took > 45*time.Second {
		t.Errorf("the run ended %s after the signal, want the 15s grace and a little more", took)
	}
	out := stdout + stderr
	// Progress lines on stderr; the JSON document on stdout says it again
	// in its results.
	const cutOff = "so cut off (it may or may not have been applied; sync again converges)"
	if n := strings.Count(stderr, cutOff); n != 1 {
		t.Errorf("%d changes cut off, want the one in flight:\n%s", n, tail(stderr, 30))
	}
	if n := strings.Count(stdout, cutOff); n != 1 {
		t.Errorf("the JSON document reports %d changes cut off, want 1:\n%s", n, tail(stdout, 30))
	}
	if !strings.Contains(out, "skipped: not started: interrupted") {
		t.Errorf("nothing skipped as interrupted:\n%s", tail(out, 30))
	}
	e.must(0, "sync", "-f", f, "--yes")
	e.must(0, "diff", "-f", f)
	e.requireAll(m)
	figure("grace", "with the server hung, one SIGINT ended the run %s later, exit %d, the change in flight cut off and reported", took.Round(time.Millisecond), code)
}
