package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// StatusVersion is the version of the `status --output json` document. It
// changes only when a field changes meaning or goes away; new fields may
// appear in the same version.
const StatusVersion = 1

// Live states of pools and queues, as status shows them. Prefect's
// READY, NOT_READY and PAUSED, lower-cased; "missing" for a declared
// object the server does not have.
const (
	StateReady    = "ready"
	StateNotReady = "not_ready"
	StatePaused   = "paused"
	StateMissing  = "missing"
)

// Sync states: whether a declared pool or queue matches the file.
const (
	InSync = "in_sync"
	Drift  = "drift"
)

// StatusReport is what `status` prints.
type StatusReport struct {
	Version int `json:"version"`
	// File and Set are set when the report compares with a file.
	File  string       `json:"file,omitempty"`
	Set   string       `json:"set,omitempty"`
	Pools []PoolStatus `json:"pools"`
}

// PoolStatus is one pool's line.
type PoolStatus struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	State string `json:"state"`
	// Workers counts the pool's workers by the server's verdict.
	Workers WorkerCount `json:"workers"`
	// LastHeartbeat is the newest heartbeat of any of its workers.
	LastHeartbeat *time.Time `json:"lastHeartbeat"`
	// ConcurrencyLimit is null when the pool has no limit.
	ConcurrencyLimit *int `json:"concurrencyLimit"`
	// LateRuns counts flow runs in the Late state; null for a missing pool.
	LateRuns *int `json:"lateRuns"`
	// Deployments counts the deployments that target the pool, and Runs
	// their flow runs by state (scheduled with the Late ones, pending,
	// running); null for a missing pool. RunsAtLeast: there were too many
	// runs to count them all.
	Deployments *int             `json:"deployments"`
	Runs        *state.RunCounts `json:"runs"`
	RunsAtLeast bool             `json:"runsAtLeast,omitempty"`
	// Sync is in_sync or drift; absent without a file.
	Sync   string        `json:"sync,omitempty"`
	Queues []QueueStatus `json:"queues"`
}

// WorkerCount splits a pool's workers into online and offline.
type WorkerCount struct {
	Online  int `json:"online"`
	Offline int `json:"offline"`
}

// QueueStatus is one queue's line, under its pool.
type QueueStatus struct {
	Name             string     `json:"name"`
	Priority         *int       `json:"priority"`
	State            string     `json:"state"`
	ConcurrencyLimit *int       `json:"concurrencyLimit"`
	LastPolled       *time.Time `json:"lastPolled"`
	// Deployments and Runs count those of the queue, as for a pool.
	Deployments *int             `json:"deployments"`
	Runs        *state.RunCounts `json:"runs"`
	Sync        string           `json:"sync,omitempty"`
}

// StatusJSON writes the report as an indented JSON document.
func StatusJSON(w io.Writer, r *StatusReport) error {
	doc := *r
	doc.Version = StatusVersion
	if doc.Pools == nil {
		doc.Pools = []PoolStatus{}
	}
	for i := range doc.Pools {
		if doc.Pools[i].Queues == nil {
			doc.Pools[i].Queues = []QueueStatus{}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// StatusText writes the report as one table, queues indented under their
// pool, ages relative to now, and a closing summary line.
func StatusText(w io.Writer, r *StatusReport, now time.Time, style Style) error {
	if len(r.Pools) == 0 {
		_, err := fmt.Fprintln(w, "No work pools.")
		return err
	}
	t := &statusTable{}
	t.row(plainCell("POOL / QUEUE"), plainCell("TYPE"), plainCell("STATE"), plainCell("WORKERS"), plainCell("LAST HEARTBEAT"), plainCell("LIMIT"), plainCell("LATE RUNS"), plainCell("DEPLOYMENTS"), plainCell("RUNS S/P/R"), plainCell("SYNC"))
	queues, drifted, notReady, missing := 0, 0, 0, 0
	for _, p := range r.Pools {
		late, heartbeat := "-", "-"
		if p.LateRuns != nil {
			late = fmt.Sprint(*p.LateRuns)
		}
		if p.State != StateMissing {
			heartbeat = statusAge(p.LastHeartbeat, now)
		}
		t.row(plainCell(p.Name), plainCell(statusOrDash(p.Type)), stateCell(p.State), plainCell(statusWorkers(p)), plainCell(heartbeat),
			plainCell(statusLimit(p.ConcurrencyLimit)), plainCell(late), plainCell(statusLimit(p.Deployments)), plainCell(statusRuns(p.Runs, p.RunsAtLeast)), syncCell(p.Sync))
		for _, q := range p.Queues {
			queues++
			prio, polled := "-", "-"
			if q.Priority != nil {
				prio = fmt.Sprintf("priority %d", *q.Priority)
			}
			if q.State != StateMissing {
				polled = "polled " + statusAge(q.LastPolled, now)
				if q.LastPolled == nil || q.LastPolled.IsZero() {
					polled = "never polled"
				}
			}
			t.row(plainCell("  "+q.Name), plainCell(prio), stateCell(q.State), plainCell(""), plainCell(polled),
				plainCell(statusLimit(q.ConcurrencyLimit)), plainCell(""), plainCell(statusLimit(q.Deployments)), plainCell(statusRuns(q.Runs, p.RunsAtLeast)), syncCell(q.Sync))
		}
		switch {
		case p.State == StateMissing:
			missing++
		case p.State != StateReady && p.State != StatePaused:
			notReady++
		}
		if p.Sync == Drift {
			drifted++
		}
	}
	if err := t.write(w, style); err != nil {
		return err
	}
	summary := fmt.Sprintf("\n%s, %s", statusCount(len(r.Pools), "pool"), statusCount(queues, "queue"))
	if notReady > 0 {
		summary += fmt.Sprintf("; %d not ready", notReady)
	}
	if missing > 0 {
		summary += fmt.Sprintf("; %d missing", missing)
	}
	if r.File != "" {
		if drifted == 0 {
			summary += "; all in sync with " + r.File
		} else {
			summary += fmt.Sprintf("; %d differ%s from %s (prefect-apply diff -f %s shows how)", drifted, statusPluralVerb(drifted), r.File, r.File)
		}
	}
	_, err := fmt.Fprintln(w, summary+".")
	return err
}

// statusCell is a table cell and the colour it is painted in on a terminal.
type statusCell struct{ text, color string }

func plainCell(s string) statusCell { return statusCell{text: s} }

// statusTable aligns columns on the cells' text, then paints them, so that
// colour codes do not shift the columns.
type statusTable struct{ rows [][]statusCell }

func (t *statusTable) row(cells ...statusCell) { t.rows = append(t.rows, cells) }

func (t *statusTable) write(w io.Writer, style Style) error {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		var line strings.Builder
		for i, c := range r {
			text := c.text
			if c.color != "" {
				text = style.paint(c.color, text)
			}
			line.WriteString(text)
			if i < len(r)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text)+2))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func stateCell(s string) statusCell {
	word := strings.ReplaceAll(s, "_", " ")
	switch s {
	case StateReady:
		return statusCell{word, green}
	case StateNotReady:
		return statusCell{word, yellow}
	case StateMissing:
		return statusCell{word, red}
	case StatePaused:
		return statusCell{word, dim}
	}
	return plainCell(word)
}

func syncCell(s string) statusCell {
	switch s {
	case InSync:
		return statusCell{"in sync", green}
	case Drift:
		return statusCell{"drift", yellow}
	case "":
		return plainCell("-")
	}
	return plainCell(s)
}

func statusWorkers(p PoolStatus) string {
	if p.State == StateMissing {
		return "-"
	}
	switch w := p.Workers; {
	case w.Online == 0 && w.Offline == 0:
		return "none"
	case w.Offline == 0:
		return fmt.Sprintf("%d online", w.Online)
	case w.Online == 0:
		return fmt.Sprintf("%d offline", w.Offline)
	default:
		return fmt.Sprintf("%d online, %d offline", w.Online, w.Offline)
	}
}

func statusLimit(l *int) string {
	if l == nil {
		return "-"
	}
	return fmt.Sprint(*l)
}

// statusRuns is "scheduled/pending/running", with "≥" when they are
// lower bounds; "-" when not counted.
func statusRuns(r *state.RunCounts, atLeast bool) string {
	if r == nil {
		return "-"
	}
	s := fmt.Sprintf("%d/%d/%d", r.Scheduled, r.Pending, r.Running)
	if atLeast {
		s = "≥" + s
	}
	return s
}

func statusOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// statusAge says how long ago t was, in the largest whole unit.
func statusAge(t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "never"
	}
	d := now.Sub(*t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
}

func statusCount(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func statusPluralVerb(n int) string {
	if n == 1 {
		return "s"
	}
	return ""
}
