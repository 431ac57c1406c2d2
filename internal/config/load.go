package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// MaxFileSize is the largest file prefect-apply reads.
const MaxFileSize = 16 << 20

// maxNodes bounds the values one document may expand to, aliases included.
const maxNodes = 2_000_000

// Document is a parsed pools.yaml: its JSON-compatible value after
// interpolation, and the YAML tree for source positions.
type Document struct {
	// Name is the file name used in messages.
	Name string
	// Dir is the folder that fromFile paths are relative to.
	Dir string
	// Value is the document as JSON-compatible data, after interpolation.
	Value any
	root  *yaml.Node
	// parseProblems are problems found while parsing that do not stop
	// validation (unset variables, duplicate keys); Validate reports them too.
	parseProblems Problems
	// replaced are the paths of values that parseProblems left out or only
	// partly interpolated; Validate reports nothing more under them.
	replaced []Path
	// interpolated are the paths of strings that held a ${VAR}.
	interpolated map[string]bool
	// secretVars are the environment variables that hold secrets (the
	// Prefect credentials, and what the file's Secrets read with fromEnv):
	// a ${...} of one is refused. secretFiles are the fromFile paths.
	secretVars  map[string]secretVar
	secretFiles []string
}

// Options control loading.
type Options struct {
	// LookupEnv resolves ${VAR}; os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
}

// LoadFile reads and parses the named file.
func LoadFile(path string, opts Options) (*Document, Problems) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Problems{{File: path, Pos: Pos{1, 1}, Message: openMessage(err)}}
	}
	defer f.Close()
	doc, probs := Parse(f, path, opts)
	if doc != nil {
		doc.Dir = filepath.Dir(path)
	}
	return doc, probs
}

func openMessage(err error) string {
	var pe *os.PathError
	if errorsAs(err, &pe) && pe.Path == "-" {
		return "reading the file from standard input is not supported: give its path"
	}
	if os.IsNotExist(err) {
		return "no such file (use -f to name the file)"
	}
	if errorsAs(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Parse reads one YAML document from r. Problems are positioned in name. It
// returns problems only when the file cannot be read as YAML at all; the
// others are reported by Validate, with the rest.
func Parse(r io.Reader, name string, opts Options) (*Document, Problems) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	fail := func(pos Pos, format string, args ...any) (*Document, Problems) {
		return nil, Problems{{File: name, Pos: pos, Message: fmt.Sprintf(format, args...)}}
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return fail(Pos{1, 1}, "reading: %v", err)
	}
	if len(data) > MaxFileSize {
		return fail(Pos{1, 1}, "file is larger than %d MiB; split it into several files with different sets", MaxFileSize>>20)
	}
	if pos, bad := firstNonText(data); bad {
		return fail(pos, "not a UTF-8 text file: unexpected byte here")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if err == io.EOF {
			return fail(Pos{1, 1}, "file is empty; expected a mapping with `pools` (and optionally `kubernetes` and `prefect`)")
		}
		return fail(yamlErrorPos(err, data), "%s", yamlErrorMessage(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return fail(Pos{extra.Line, extra.Column}, "a second YAML document starts here; a pools.yaml holds exactly one (remove the `---` separator)")
	} else if err != io.EOF {
		return fail(yamlErrorPos(err, data), "%s", yamlErrorMessage(err))
	}
	doc := &Document{Name: name, root: &root}
	c := converter{doc: doc, env: opts.LookupEnv, src: data}
	top := &root
	if top.Kind == yaml.DocumentNode {
		if len(top.Content) == 0 {
			return fail(Pos{1, 1}, "file is empty; expected a mapping with `pools`")
		}
		top = top.Content[0]
	}
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return fail(Pos{top.Line, top.Column}, "file is empty; expected a mapping with `pools` (and optionally `kubernetes` and `prefect`)")
	}
	if top.Kind != yaml.MappingNode {
		return fail(Pos{top.Line, top.Column}, "expected a mapping at the root (keys set, pools, kubernetes, prefect), got %s", describeNode(top))
	}
	doc.secretVars, doc.secretFiles = secretSources(top)
	doc.Value = c.convert(top, nil)
	if c.stopped {
		c.problems.Sort()
		return nil, c.problems
	}
	doc.parseProblems = c.problems
	return doc, nil
}

func errorsAs(err error, target **os.PathError) bool {
	pe, ok := err.(*os.PathError)
	if ok {
		*target = pe
	}
	return ok
}

func firstNonText(data []byte) (Pos, bool) {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if (r == utf8.RuneError && size == 1) || r == 0 || (r < 0x20 && r != '\n' && r != '\r' && r != '\t') {
			return Pos{line, col}, true
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return Pos{}, false
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// maxRefine is the largest file whose syntax errors yamlErrorPos places by
// parsing prefixes of it.
const maxRefine = 128 << 10

// yamlErrorPos places a YAML syntax error. The parser's line is often not
// the problem's: it names the line where the enclosing block starts (and
// counts it from 0), or is missing. The problem's line is the first whose
// prefix of the file fails with the same error, found by bisection.
func yamlErrorPos(err error, data []byte) Pos {
	line := 1
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(data) <= maxRefine {
		want := yamlErrorMessage(err)
		fails := func(n int) bool {
			e := decodeAll(bytes.Join(lines[:n], nil))
			return e != nil && yamlErrorMessage(e) == want
		}
		lo, hi := 1, len(lines)
		if fails(hi) {
			for lo < hi {
				if mid := (lo + hi) / 2; fails(mid) {
					hi = mid
				} else {
					lo = mid + 1
				}
			}
			line = hi
		}
	}
	col := 1
	if line >= 1 && line <= len(lines) {
		text := bytes.TrimRight(lines[line-1], "\r\n")
		if i := bytes.IndexByte(text, '\t'); i >= 0 && strings.Contains(err.Error(), "cannot start any token") {
			col = utf8.RuneCount(text[:i]) + 1
		} else if i := len(text) - len(bytes.TrimLeft(text, " ")); i < len(text) {
			col = i + 1
		}
	}
	return Pos{max(line, 1), col}
}

// decodeAll decodes the first two YAML documents in data, as Parse does,
// and returns the first error.
func decodeAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for range 2 {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
	return nil
}

func yamlErrorMessage(err error) string {
	msg := yamlLineRE.ReplaceAllString(err.Error(), "")
	msg = strings.TrimPrefix(msg, "yaml: ")
	switch {
	case strings.Contains(msg, "found character that cannot start any token"):
		msg += " (a tab? YAML indents with spaces only)"
	case strings.Contains(msg, "found unexpected end of stream"):
		msg += " (a quote or bracket opened here is never closed?)"
	case strings.Contains(msg, "did not find expected '-' indicator"), strings.Contains(msg, "did not find expected key"):
		msg += " (is this line indented like the ones before it?)"
	case strings.Contains(msg, "mapping values are not allowed in this context"):
		msg += " (a value that holds \": \" needs quotes)"
	}
	return "invalid YAML: " + msg
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!null":
		return "null"
	case "!!str":
		return fmt.Sprintf("the string %q", truncate(n.Value, 40))
	case "!!int", "!!float":
		return "the number " + truncate(n.Value, 40)
	case "!!bool":
		return "the boolean " + n.Value
	}
	return "a scalar"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
