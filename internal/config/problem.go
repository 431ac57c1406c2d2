// Package config owns the pools.yaml file: its Go types (the source of the
// JSON Schema), loading with source positions, ${VAR} interpolation, schema
// validation and the semantic checks. Problems are values that carry the
// file, the position and the path in the document.
package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Pos is a 1-based line and column in a file.
type Pos struct {
	Line int `json:"line"`
	Col  int `json:"column"`
}

// Path is a location in the document as a list of keys and indexes.
type Path []string

// String renders a path the way users read it: pools[1].queues[0].priority.
func (p Path) String() string {
	var b strings.Builder
	for _, tok := range p {
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		if strings.ContainsAny(tok, ". []\"") || tok == "" {
			b.WriteString(strconv.Quote(tok))
		} else {
			b.WriteString(tok)
		}
	}
	if b.Len() == 0 {
		return "(root)"
	}
	return b.String()
}

// Pointer renders a path as a JSON pointer.
func (p Path) Pointer() string {
	var b strings.Builder
	for _, tok := range p {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(tok))
	}
	return b.String()
}

// Child returns p extended by tokens, without aliasing p.
func (p Path) Child(tokens ...string) Path {
	out := make(Path, 0, len(p)+len(tokens))
	return append(append(out, p...), tokens...)
}

// Problem is one thing wrong with a file.
type Problem struct {
	File    string `json:"file"`
	Pos     Pos    `json:"position"`
	Path    Path   `json:"path"`
	Message string `json:"message"`
	// Hint is an optional second line: how to fix it.
	Hint string `json:"hint,omitempty"`
}

// Error renders FILE:LINE:COL: PATH: MESSAGE, with the hint on the next line.
func (p Problem) Error() string {
	s := fmt.Sprintf("%s:%d:%d: %s: %s", p.File, p.Pos.Line, p.Pos.Col, p.Path, p.Message)
	if p.Hint != "" {
		s += "\n    hint: " + strings.ReplaceAll(p.Hint, "\n", "\n    ")
	}
	return s
}

// Problems is a list of problems; as an error it renders them all, one per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Sort orders problems by file, position, message, then path and hint, so
// that the order never depends on how they were found.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].less(ps[j]) })
}

func (a Problem) less(b Problem) bool {
	if a.File != b.File {
		return a.File < b.File
	}
	if a.Pos.Line != b.Pos.Line {
		return a.Pos.Line < b.Pos.Line
	}
	if a.Pos.Col != b.Pos.Col {
		return a.Pos.Col < b.Pos.Col
	}
	if a.Message != b.Message {
		return a.Message < b.Message
	}
	if pa, pb := a.Path.String(), b.Path.String(); pa != pb {
		return pa < pb
	}
	return a.Hint < b.Hint
}
