package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/plan"
)

// MarkdownLimit is GitHub's limit on a comment's length.
const MarkdownLimit = 65535

// Markdown writes the plan as a pull-request comment: a summary, a table of
// changes and the field-level differences in collapsible blocks, kept under
// GitHub's comment limit with a notice when details had to be left out.
func Markdown(w io.Writer, p *plan.Plan) error {
	var head strings.Builder
	fmt.Fprintf(&head, "### prefect-apply plan for set `%s`\n\n", p.Set)
	if !hasVisible(p) {
		head.WriteString("**No changes**: the live state matches the file.\n")
		_, err := io.WriteString(w, head.String())
		return err
	}
	fmt.Fprintf(&head, "**%s**\n\n", strings.TrimPrefix(PlanSummaryLine(p), "Plan: "))
	head.WriteString(impactSection(p))
	head.WriteString("| | Object | Change |\n|---|---|---|\n")
	var rows []string
	type detail struct {
		sym string
		c   plan.Change
	}
	var detailed []detail // the changes with a detail block, in order
	for _, c := range p.Changes {
		if !shown(c) {
			continue
		}
		sym, _, note, reasonShown := headline(c, p.Set)
		if c.Reason != "" && !reasonShown {
			note += ": " + c.Reason
		}
		if len(c.OtherSets) > 0 {
			if o := ownership(c, p.Set); o != "" {
				note += "; " + o
			}
		}
		if c.Problem != "" {
			note += "; **" + ProblemNote(c) + "**"
		}
		if len(c.Conflicts) > 0 && c.Action != plan.Orphan {
			note += "; " + pick(p.ForceConflicts, "", "**") + ConflictNote(c, p.ForceConflicts) + pick(p.ForceConflicts, "", "**")
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %s |\n", sym, escapeCell(Object(c.Key)), escapeCell(note)))
		if len(c.Fields) > 0 && c.Action != plan.Orphan {
			detailed = append(detailed, detail{sym, c})
		}
	}
	notice := "\n> **Note:** %d of %d detail blocks were left out to stay under GitHub's comment size limit. Run `prefect-apply diff` for the full plan.\n"
	rowsNotice := "\n> **Note:** %d of %d changes and all %d detail blocks were left out to stay under GitHub's comment size limit. Run `prefect-apply diff` for the full plan.\n"
	// Lengths are in bytes, an upper bound of GitHub's characters; the
	// notices' numbers take at most 20 more bytes than their verbs.
	room := MarkdownLimit - head.Len() - len("\n") - len(rowsNotice) - 20
	var out strings.Builder
	out.WriteString(head.String())
	// The table first: past the limit, whole rows are left out and no
	// detail block is shown.
	for i, r := range rows {
		if len(r) > room {
			out.WriteString("\n")
			fmt.Fprintf(&out, rowsNotice, len(rows)-i, len(rows), len(detailed))
			_, err := io.WriteString(w, out.String())
			return err
		}
		out.WriteString(r)
		room -= len(r)
	}
	out.WriteString("\n")
	room += len(rowsNotice) - len(notice)
	// Blocks are made one at a time, until one does not fit: the plan of
	// a large first sync holds far more than a comment shows.
	written := 0
	for _, d := range detailed {
		b := detailBlock(d.sym, d.c)
		if len(b) > room {
			break
		}
		out.WriteString(b)
		room -= len(b)
		written++
	}
	if written < len(detailed) {
		fmt.Fprintf(&out, notice, len(detailed)-written, len(detailed))
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// detailBlock is a change's field-level differences, in a collapsible
// diff block, and the effective job of a created or replaced pool.
func detailBlock(sym string, c plan.Change) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<details><summary>%s %s (%d field%s)</summary>\n\n```diff\n", sym, htmlEscape(Object(c.Key)), len(c.Fields), plural(len(c.Fields)))
	for _, f := range c.Fields {
		b.WriteString(diffLine(f) + "\n")
	}
	b.WriteString("```\n")
	if c.Job != nil {
		fmt.Fprintf(&b, "\n%s\n\n```\n", capitalize(jobHeading))
		for _, l := range JobLines(c.Job) {
			b.WriteString(l + "\n")
		}
		b.WriteString("```\n")
	}
	b.WriteString("</details>\n")
	return b.String()
}

func hasVisible(p *plan.Plan) bool {
	for _, c := range p.Changes {
		if shown(c) {
			return true
		}
	}
	return false
}

// diffLine renders a field change in diff syntax: + added, - removed, and
// a changed field as a removed and an added line.
func diffLine(f plan.FieldChange) string {
	switch {
	case f.HasOld && f.HasNew:
		return "- " + f.Path + ": " + Value(f.Old) + "\n+ " + f.Path + ": " + Value(f.New)
	case f.HasNew:
		return "+ " + f.Path + ": " + Value(f.New)
	default:
		return "- " + f.Path + ": " + Value(f.Old)
	}
}

// Replacers are made once: each is a table of a few kilobytes, and a
// large plan escapes thousands of cells.
var (
	cellEscaper = strings.NewReplacer("|", "\\|", "\n", " ")
	htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
)

func escapeCell(s string) string { return cellEscaper.Replace(htmlEscape(s)) }

func htmlEscape(s string) string { return htmlEscaper.Replace(s) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// maxMarkdownWarnings bounds the warnings a comment lists; the rest are
// counted.
const maxMarkdownWarnings = 20

// impactSection lists, before the per-object details, what the plan does
// to the deployments on the pools and queues it changes, and its
// warnings; "" when there is nothing to say.
func impactSection(p *plan.Plan) string {
	var b strings.Builder
	for _, c := range p.Changes {
		if c.Impact == nil {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("#### Deployments affected\n\n")
		}
		_, _, verb, _ := headline(c, p.Set)
		lead := ""
		if c.Impact.Blocked {
			lead = "**blocked** "
		}
		fmt.Fprintf(&b, "- %s%s %s: %s. Then %s.", lead, escapeCell(Object(c.Key)), verb, escapeCell(ImpactCount(*c.Impact)), escapeCell(c.Impact.Effect))
		if c.Impact.Blocked {
			b.WriteString(" sync refuses it: move the deployments first, or rerun with `--allow-orphaning`.")
		}
		b.WriteString("\n")
	}
	if b.Len() > 0 {
		b.WriteString("\n")
	}
	warnings := p.Warnings()
	if len(warnings) > 0 {
		b.WriteString("#### Warnings\n\n")
		for _, w := range warnings[:min(len(warnings), maxMarkdownWarnings)] {
			fmt.Fprintf(&b, "- %s\n", escapeCell(w))
		}
		if more := len(warnings) - maxMarkdownWarnings; more > 0 {
			fmt.Fprintf(&b, "- and %d more warning%s: run `prefect-apply diff` for all of them\n", more, plural(more))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
