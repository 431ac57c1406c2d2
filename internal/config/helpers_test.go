package config

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// yml turns an indented raw string into YAML: it drops the first newline
// and the tabs that indent every line, so that test sources can follow the
// Go code's indentation (YAML itself never holds tabs here).
func yml(s string) string {
	s = strings.TrimPrefix(s, "\n")
	lines := strings.Split(s, "\n")
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, "\t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	for i, l := range lines {
		if len(l) >= indent && indent > 0 {
			lines[i] = l[indent:]
		} else {
			lines[i] = strings.TrimLeft(l, "\t")
		}
	}
	return strings.Join(lines, "\n")
}

// env is a LookupEnv that sees only vars: tests never read the process
// environment.
func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

// noEnv is a LookupEnv in which no variable is set.
var noEnv = env(nil)

// testEnv is the environment of the table and golden tests.
var testEnv = env(map[string]string{
	"IMAGE":     "gbifnorway/prefect-automations:latest",
	"NAMESPACE": "prefect",
	"EMPTY":     "",
})

// validateSource does what `validate` does with one file: parse, and
// validate what parsed. Problems come back sorted.
func validateSource(name string, src []byte, lookup func(string) (string, bool)) (*File, Problems) {
	doc, probs := Parse(bytes.NewReader(src), name, Options{LookupEnv: lookup})
	if len(probs) > 0 {
		probs.Sort()
		return nil, probs
	}
	return doc.Validate()
}

// want is one expected problem: its position, its path as users read it,
// and a substring of its message.
type want struct {
	pos  string // "LINE:COL"
	path string // Path.String(), "(root)" for none
	msg  string
	hint string // substring of the hint; "" checks nothing
}

func (w want) String() string { return fmt.Sprintf("%s: %s: ...%s...", w.pos, w.path, w.msg) }

// checkProblems asserts that probs are exactly wants, in order.
func checkProblems(t *testing.T, probs Problems, wants []want) {
	t.Helper()
	ok := len(probs) == len(wants)
	for i := 0; ok && i < len(wants); i++ {
		ok = matches(probs[i], wants[i])
	}
	if ok {
		return
	}
	var got, exp strings.Builder
	for _, p := range probs {
		fmt.Fprintf(&got, "\n  %d:%d: %s: %s", p.Pos.Line, p.Pos.Col, p.Path, p.Message)
		if p.Hint != "" {
			fmt.Fprintf(&got, " [hint: %s]", p.Hint)
		}
	}
	for _, w := range wants {
		fmt.Fprintf(&exp, "\n  %s", w)
	}
	t.Errorf("problems differ\ngot:%s\nwant:%s", got.String(), exp.String())
}

func matches(p Problem, w want) bool {
	return fmt.Sprintf("%d:%d", p.Pos.Line, p.Pos.Col) == w.pos &&
		p.Path.String() == w.path &&
		strings.Contains(p.Message, w.msg) &&
		strings.Contains(p.Hint, w.hint)
}
