package render

import (
	"io"
	"strconv"
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// Annotation levels: GitHub shows each on the pull request's lines.
const (
	LevelError   = "error"
	LevelWarning = "warning"
	LevelNotice  = "notice"
)

// Annotation is one GitHub Actions workflow command (::error, ::warning,
// ::notice). GitHub shows it in the run's summary and, when File and Line
// are set, on that line of the pull request's diff.
type Annotation struct {
	Level   string
	File    string
	Line    int
	Col     int
	Title   string
	Message string
}

// String is the workflow command: ::LEVEL file=F,line=L,col=C,title=T::MESSAGE,
// escaped as GitHub requires.
func (a Annotation) String() string {
	var props []string
	if a.File != "" {
		props = append(props, "file="+escapeProperty(a.File))
	}
	if a.Line > 0 {
		props = append(props, "line="+strconv.Itoa(a.Line))
	}
	if a.Col > 0 {
		props = append(props, "col="+strconv.Itoa(a.Col))
	}
	if a.Title != "" {
		props = append(props, "title="+escapeProperty(a.Title))
	}
	cmd := "::" + a.Level
	if len(props) > 0 {
		cmd += " " + strings.Join(props, ",")
	}
	return cmd + "::" + escapeData(a.Message)
}

// GitHub's escaping of workflow commands (actions/toolkit, command.ts): a
// message cannot hold a line break, a property value neither a ',' nor a
// ':', and '%' introduces the escapes.
var (
	dataEscaper     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	propertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

func escapeData(s string) string     { return dataEscaper.Replace(s) }
func escapeProperty(s string) string { return propertyEscaper.Replace(s) }

// writeAnnotations writes one workflow command a line.
func writeAnnotations(w io.Writer, as []Annotation) error {
	var b strings.Builder
	for _, a := range as {
		b.WriteString(a.String())
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Locate says where a file declares an object: its name and the position,
// ok false when the file does not declare it (one a prune deletes).
type Locate func(state.Key) (file string, pos config.Pos, ok bool)

// diffTitle is the title of diff's annotations.
const diffTitle = "prefect-apply diff"

// GitHub writes a plan as GitHub workflow commands (`diff --output
// github`): an error for each change sync refuses (blocked, refused by the
// API server, a field another manager owns), a warning for each risky
// change and each warning, on the line that declares the object when
// locate finds it, then a notice with the summary line.
func GitHub(w io.Writer, p *plan.Plan, locate Locate) error {
	var out []Annotation
	for _, c := range p.Changes {
		if c.Action == plan.Orphan {
			continue
		}
		at := Annotation{Title: diffTitle}
		if locate != nil {
			if file, pos, ok := locate(c.Key); ok {
				at.File, at.Line = file, pos.Line
			}
		}
		out = append(out, changeAnnotations(c, p.ForceConflicts, at)...)
	}
	summary := "No changes: the live state matches the file."
	if p.HasChanges() {
		summary = PlanSummaryLine(p)
	}
	out = append(out, Annotation{Level: LevelNotice, Title: diffTitle, Message: summary})
	return writeAnnotations(w, out)
}

// changeAnnotations are one change's annotations, each a copy of at with
// its level and message.
func changeAnnotations(c plan.Change, forced bool, at Annotation) []Annotation {
	var out []Annotation
	add := func(level, msg string) {
		a := at
		a.Level, a.Message = level, Object(c.Key)+" "+msg
		out = append(out, a)
	}
	_, _, verb, _ := headline(c, "")
	if c.Problem != "" {
		add(LevelError, "is "+ProblemNote(c))
	}
	if len(c.Conflicts) > 0 && !forced {
		add(LevelError, "has a "+ConflictNote(c, false))
	}
	if c.Impact != nil {
		level := LevelWarning
		if c.Impact.Blocked {
			level = LevelError
		}
		add(level, verb+"\n"+strings.Join(ImpactLines(*c.Impact), "\n"))
	}
	for _, warn := range c.Warnings {
		add(LevelWarning, verb+": "+WarningLine(warn))
	}
	return out
}

// FileReport is what validate found in one file: its problems (the file
// is valid without any) and its warnings.
type FileReport struct {
	File     string
	Problems config.Problems
	Warnings config.Problems
}

// validateTitle is the title of validate's annotations.
const validateTitle = "prefect-apply validate"

// ValidateGitHub writes validate's problems as GitHub error commands and
// its warnings as warning commands, each at its file, line and column:
// PATH: MESSAGE, and the hint on a line of its own.
func ValidateGitHub(w io.Writer, reports []FileReport) error {
	var out []Annotation
	for _, r := range reports {
		for _, p := range r.Problems {
			out = append(out, problemAnnotation(LevelError, p))
		}
		for _, p := range r.Warnings {
			out = append(out, problemAnnotation(LevelWarning, p))
		}
	}
	return writeAnnotations(w, out)
}

func problemAnnotation(level string, p config.Problem) Annotation {
	msg := p.Path.String() + ": " + p.Message
	if p.Hint != "" {
		msg += "\nhint: " + p.Hint
	}
	return Annotation{Level: level, File: p.File, Line: p.Pos.Line, Col: p.Pos.Col, Title: validateTitle, Message: msg}
}
