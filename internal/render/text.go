// Package render turns Plans and apply Results into text (coloured on a
// terminal), JSON and Markdown. Secret values are masked by the planner;
// nothing here ever sees one.
package render

import (
	"encoding/json"
	"fmt"
	"io"
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
}

// Text writes the plan the way `terraform plan` does: one block per change,
// field-level differences, and a summary line.
func Text(w io.Writer, p *plan.Plan, st Style) error {
	pending := 0
	for _, c := range p.Changes {
		if c.Action == plan.NoOp {
			continue
		}
		pending++
		sym := symbols[c.Action]
		verb := sym.verb
		if c.Implicit {
			verb = "will be created with its pool"
		}
		line := fmt.Sprintf("%s %s %s", sym.sym, Object(c.Key), verb)
		fmt.Fprintln(w, st.paint(sym.color, line))
		if c.Reason != "" {
			fmt.Fprintln(w, st.paint(dim, "    # "+c.Reason))
		}
		if c.Unowned {
			fmt.Fprintln(w, st.paint(dim, fmt.Sprintf("    # exists but was not created by set %q; applying takes it over", p.Set)))
		}
		if c.Action == plan.Orphan {
			continue
		}
		for _, f := range c.Fields {
			fmt.Fprintln(w, "    "+fieldLine(f, st))
		}
	}
	if pending == 0 {
		fmt.Fprintln(w, "No changes: the live state matches the file.")
		return nil
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, st.paint(bold, SummaryLine(p.Summary())))
	return nil
}

// SummaryLine is "Plan: N to create, M to update, R to replace, K to delete."
// with the orphans, if any, after it.
func SummaryLine(s plan.Summary) string {
	line := fmt.Sprintf("Plan: %d to create, %d to update, %d to replace, %d to delete.", s.Create, s.Update, s.Replace, s.Delete)
	if s.Orphan > 0 {
		line += fmt.Sprintf(" %d no longer in the file (kept; --prune deletes them).", s.Orphan)
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

// Value renders a field value compactly; large objects are summarised.
func Value(v any) string {
	if s, ok := v.(string); ok && s == plan.Masked {
		return s
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(raw)
	if len(s) > 200 {
		switch x := v.(type) {
		case map[string]any:
			return fmt.Sprintf("{...%d keys: %s}", len(x), strings.Join(keysOf(x), ", "))
		case []any:
			return fmt.Sprintf("[...%d items]", len(x))
		}
	}
	return s
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}
