// Package render turns Plans and apply Results into text (coloured on a
// terminal), JSON and Markdown. Secret values are masked before they get
// here: Secret data by the planner, any other known secret value in a
// field by the command that computed the plan (internal/cli, redactPlan).
package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// Style switches colour on or off.
type Style struct{ Color bool }

const (
	green   = "\x1b[32m"
	yellow  = "\x1b[33m"
	red     = "\x1b[31m"
	magenta = "\x1b[35m"
	dim     = "\x1b[2m"
	bold    = "\x1b[1m"
	reset   = "\x1b[0m"
)

func (s Style) paint(color, text string) string {
	if !s.Color {
		return text
	}
	return color + text + reset
}

var symbols = map[plan.Action]struct{ sym, color, verb string }{
	plan.Create:  {"+", green, "will be created"},
	plan.Update:  {"~", yellow, "will be updated"},
	plan.Replace: {"-/+", magenta, "will be replaced"},
	plan.Delete:  {"-", red, "will be deleted"},
	plan.Orphan:  {"?", dim, "is no longer in the file"},
	// The verb of an unmanaged object is its reason ("exists, not managed
	// by set ...; --adopt takes it over").
	plan.Unmanaged: {"!", yellow, ""},
}

// adoptSymbol marks an object that matches the file and is taken over.
var adoptSymbol = struct{ sym, color, verb string }{"=", green, "will be taken over"}

// shown reports whether a change appears in a rendered plan: everything
// but no-ops, except the no-ops that adopt an object or that other sets
// manage too.
func shown(c plan.Change) bool {
	return c.Action != plan.NoOp || c.Adopted() || len(c.OtherSets) > 0
}

// ownership is the note on a declared object's ownership, "" when there is
// nothing to say: what applying does to an object another set manages, or
// that the set takes over.
func ownership(c plan.Change, set string) string {
	if c.Action == plan.Unmanaged || c.Action == plan.Orphan {
		return "" // the reason says it
	}
	others := plan.SetNames(c.OtherSets)
	switch {
	case c.Take && c.Action == plan.Create:
		return fmt.Sprintf("%s's inventory lists it, but it does not exist: applying creates it for set %q alone", others, set)
	case c.Take && c.Unowned:
		return fmt.Sprintf("managed by %s until now: applying moves it to set %q, and %s no longer manages it", others, set, others)
	case c.Take:
		return fmt.Sprintf("%s manages it too: applying takes it from %s, and set %q alone manages it", others, others, set)
	case len(c.OtherSets) > 0:
		return fmt.Sprintf("%s manages it too (both inventories list it): sync --adopt takes it from %s, so that set %q alone manages it", others, others, set)
	case c.Adopted() && c.Action != plan.NoOp:
		return fmt.Sprintf("exists but was not created by set %q; applying takes it over", set)
	}
	return ""
}

// headline is a change's symbol, colour and verb, and whether its reason
// is already in the verb.
func headline(c plan.Change, set string) (sym, color, verb string, reasonShown bool) {
	s := symbols[c.Action]
	switch {
	case c.Action == plan.Unmanaged:
		return s.sym, s.color, c.Reason, true
	case c.Action == plan.NoOp && (c.Adopted() || c.Take):
		return adoptSymbol.sym, adoptSymbol.color, fmt.Sprintf("exists and matches the file; set %q takes it over", set), false
	case c.Action == plan.NoOp && len(c.OtherSets) > 0:
		return symbols[plan.Unmanaged].sym, symbols[plan.Unmanaged].color, "exists and matches the file", false
	case c.Implicit:
		return s.sym, s.color, "will be created with its pool", false
	}
	return s.sym, s.color, s.verb, false
}

// Text writes the plan the way `terraform plan` does: one block per change,
// field-level differences, and a summary line.
func Text(w io.Writer, p *plan.Plan, st Style) error {
	pending := 0
	for _, c := range p.Changes {
		if !shown(c) {
			continue
		}
		pending++
		sym, color, verb, reasonShown := headline(c, p.Set)
		line := fmt.Sprintf("%s %s %s", sym, Object(c.Key), verb)
		fmt.Fprintln(w, st.paint(color, line))
		if c.Reason != "" && !reasonShown {
			fmt.Fprintln(w, st.paint(dim, "    # "+c.Reason))
		}
		if note := ownership(c, p.Set); note != "" {
			fmt.Fprintln(w, st.paint(dim, "    # "+note))
		}
		if c.Action == plan.Orphan {
			continue
		}
		if c.Problem != "" {
			fmt.Fprintln(w, st.paint(red, "    ! "+ProblemNote(c)))
		}
		if len(c.Conflicts) > 0 {
			if p.ForceConflicts {
				fmt.Fprintln(w, st.paint(dim, "    # "+ConflictNote(c, true)))
			} else {
				fmt.Fprintln(w, st.paint(red, "    ! "+ConflictNote(c, false)))
			}
		}
		writeImpact(w, c, st)
		for _, f := range c.Fields {
			fmt.Fprintln(w, "    "+fieldLine(f, st))
		}
		writeJob(w, c, st)
	}
	if pending == 0 {
		fmt.Fprintln(w, "No changes: the live state matches the file.")
		return nil
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, st.paint(bold, PlanSummaryLine(p)))
	return nil
}

// writeImpact writes what a change does to the deployments on its object,
// and its warnings.
func writeImpact(w io.Writer, c plan.Change, st Style) {
	if c.Impact != nil {
		color := yellow
		if c.Impact.Blocked {
			color = red
		}
		for _, l := range ImpactLines(*c.Impact) {
			fmt.Fprintln(w, st.paint(color, "    ! "+l))
		}
	}
	for _, warn := range c.Warnings {
		fmt.Fprintln(w, st.paint(yellow, "    ! "+WarningLine(warn)))
	}
}

// writeJob writes the effective job of a created or replaced pool.
func writeJob(w io.Writer, c plan.Change, st Style) {
	if c.Job == nil {
		return
	}
	fmt.Fprintln(w, st.paint(dim, "    # "+jobHeading))
	for _, l := range JobLines(c.Job) {
		fmt.Fprintln(w, "      "+l)
	}
}

// ConflictNote says which fields of a change other field managers own and
// what that means for sync: it fails on the object, or, forced
// (--force-conflicts), takes them over.
func ConflictNote(c plan.Change, forced bool) string {
	value, it := "a value", "it"
	if state.ConflictFields(c.Conflicts) > 1 {
		value, it = "values", "them"
	}
	note := fmt.Sprintf("conflict: %s, with %s other than the file's", state.DescribeConflicts(c.Conflicts), value)
	if forced {
		return note + "; --force-conflicts takes " + it + " over"
	}
	return note + "; sync fails on this object unless run with --force-conflicts, which takes " + it + " over (or change " + it + " back)"
}

// ProblemNote says that the API server refused a change's object in a dry
// run, and why.
func ProblemNote(c plan.Change) string {
	return "refused by the API server (dry run): " + c.Problem + "; sync changes nothing until the file is fixed"
}

// SummaryLine is "Plan: N to create, M to update, R to replace, K to delete."
// with the orphans, if any, after it.
func SummaryLine(s plan.Summary) string {
	return summaryLine(s, false)
}

// PlanSummaryLine is the SummaryLine of a plan, with its conflicts.
func PlanSummaryLine(p *plan.Plan) string {
	return summaryLine(p.Summary(), p.ForceConflicts)
}

func summaryLine(s plan.Summary, forced bool) string {
	line := fmt.Sprintf("Plan: %d to create, %d to update, %d to replace, %d to delete.", s.Create, s.Update, s.Replace, s.Delete)
	if s.Problems > 0 {
		line += fmt.Sprintf(" %d refused by the API server (dry run): sync changes nothing until the file is fixed.", s.Problems)
	}
	switch {
	case s.Conflicts > 0 && forced:
		line += fmt.Sprintf(" %d with fields another field manager owns, taken over (--force-conflicts).", s.Conflicts)
	case s.Conflicts > 0:
		line += fmt.Sprintf(" %d with fields another field manager owns: sync fails on %s without --force-conflicts.", s.Conflicts, pick(s.Conflicts == 1, "it", "them"))
	}
	if s.Adopt > 0 {
		line += fmt.Sprintf(" %d to take over (--adopt).", s.Adopt)
	}
	if s.Unmanaged > 0 {
		line += fmt.Sprintf(" %d not managed by this set (left alone; --adopt takes them over).", s.Unmanaged)
	}
	if n := s.Orphan - s.Kept; n > 0 {
		line += fmt.Sprintf(" %d no longer in the file (kept; --prune deletes them).", n)
	}
	if s.Kept > 0 {
		line += fmt.Sprintf(" %d no longer in the file and kept even with --prune (each says why).", s.Kept)
	}
	return line
}

// Object names a key for people: work pool "gpu", work queue "gpu/default",
// ServiceAccount "prefect/prefect-worker".
func Object(k state.Key) string {
	switch k.Kind {
	case state.KindWorkPool:
		return fmt.Sprintf("work pool %q", k.Name)
	case state.KindWorkQueue:
		return fmt.Sprintf("work queue %q in pool %q", k.Name, k.Namespace)
	}
	return k.String()
}

func fieldLine(f plan.FieldChange, st Style) string {
	switch {
	case f.HasOld && f.HasNew:
		return st.paint(yellow, "~ ") + f.Path + ": " + Value(f.Old) + " → " + Value(f.New)
	case f.HasNew:
		return st.paint(green, "+ ") + f.Path + ": " + Value(f.New)
	default:
		return st.paint(red, "- ") + f.Path + ": " + Value(f.Old)
	}
}

// valueLimit is the longest JSON a value is shown as; a longer object or
// list is summarised.
const valueLimit = 200

// Value renders a field value compactly; large objects are summarised.
func Value(v any) string {
	if s, ok := v.(string); ok && s == plan.Masked {
		return s
	}
	// A job template is kilobytes of JSON: it is summarised without
	// being encoded first.
	if jsonLengthAtLeast(v, valueLimit+1) {
		if s, ok := summary(v); ok {
			return s
		}
	}
	return encodedValue(v)
}

// encodedValue is v as compact JSON, or its summary when that is longer
// than valueLimit.
func encodedValue(v any) string {
	// Without HTML escaping: "a < b & c" reads as written, not as
	// "a \u003c b \u0026 c".
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	s := strings.TrimSuffix(buf.String(), "\n")
	if len(s) > valueLimit {
		if sum, ok := summary(v); ok {
			return sum
		}
	}
	return s
}

// summary is how a long object or list is shown.
func summary(v any) (string, bool) {
	switch x := v.(type) {
	case map[string]any:
		return fmt.Sprintf("{...%d keys: %s}", len(x), strings.Join(slices.Sorted(maps.Keys(x)), ", ")), true
	case []any:
		return fmt.Sprintf("[...%d items]", len(x)), true
	}
	return "", false
}

// jsonLengthAtLeast reports whether v's JSON encoding is surely n bytes or
// longer. It adds up a lower bound of the encoding (escapes only lengthen
// a string) and stops as soon as it reaches n. What it cannot bound counts
// as nothing: a type JSON decoding does not make, or a number the encoder
// refuses (NaN, infinities), so a large object holding one is summarised
// like any other, where encoding it whole would fail.
func jsonLengthAtLeast(v any, n int) bool {
	return jsonMinLength(v, n) >= n
}

// jsonMinLength is a lower bound of v's JSON length, or a number of at
// least limit when the bound reaches it.
func jsonMinLength(v any, limit int) int {
	switch x := v.(type) {
	case nil:
		return len("null")
	case bool:
		if x {
			return len("true")
		}
		return len("false")
	case string:
		return len(x) + 2
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0
		}
		return 1
	case int, int64:
		return 1
	case []any:
		total := 2 + max(len(x)-1, 0) // brackets, commas
		for _, e := range x {
			if total >= limit {
				break
			}
			total += jsonMinLength(e, limit-total)
		}
		return total
	case map[string]any:
		total := 2 + max(len(x)-1, 0) // braces, commas
		for k, e := range x {
			if total >= limit {
				break
			}
			total += len(k) + 3 + jsonMinLength(e, limit-total) // quotes, colon
		}
		return total
	}
	return 0
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}
