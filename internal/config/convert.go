package config

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// maxDepth bounds how deeply values may nest; a pools.yaml needs about 15.
const maxDepth = 500

// maxText bounds the bytes of strings and keys one document may expand to,
// aliases included: aliases of a long string multiply its length, not its
// count of values.
const maxText = 2 * MaxFileSize

// converter turns a YAML tree into JSON-compatible values, interpolating
// strings and reporting duplicate keys, unsupported keys, aliases that
// contain themselves and aliasing that expands past maxNodes.
type converter struct {
	doc      *Document
	env      func(string) (string, bool)
	problems Problems
	nodes    int
	stopped  bool
	// expanding holds the anchored nodes being converted: an alias to one of
	// them would expand forever.
	expanding map[*yaml.Node]bool
	// outer is the outermost alias being expanded, where an expansion that
	// grows too large is reported.
	outer     *yaml.Node
	outerPath Path
	// src is the file, and lines its lines once needed, to place problems
	// inside scalars.
	src   []byte
	lines [][]byte
	// text counts the bytes of strings and keys converted so far.
	text int
	// scalars holds each scalar's value once converted: an alias used many
	// times is interpolated, and its problems reported, once. replacedNode
	// marks the scalars whose value a problem left out.
	scalars      map[*yaml.Node]any
	replacedNode map[*yaml.Node]bool
}

// replace reports a problem with the value at path, which is left out (or
// only partly interpolated): Validate then says nothing more about it.
func (c *converter) replace(n *yaml.Node, path Path, format string, args ...any) {
	c.add(n, path, format, args...)
	c.doc.replaced = append(c.doc.replaced, path)
}

func (c *converter) add(n *yaml.Node, path Path, format string, args ...any) {
	c.problems = append(c.problems, Problem{File: c.doc.Name, Pos: Pos{n.Line, n.Column}, Path: path, Message: fmt.Sprintf(format, args...)})
}

// spend counts the bytes of a string or key and reports whether conversion
// may go on.
func (c *converter) spend(n *yaml.Node, path Path, text int) bool {
	if c.stopped {
		return false
	}
	c.text += text
	switch {
	case c.text > maxText && c.outer != nil:
		c.stopped = true
		c.problems = append(c.problems, Problem{File: c.doc.Name, Pos: Pos{c.outer.Line, c.outer.Column}, Path: c.outerPath,
			Message: fmt.Sprintf("aliases expand the document to more than %d MiB of text; refusing to go on", maxText>>20),
			Hint:    "an alias of a long value used many times multiplies its size; write the values out instead"})
	case c.text > maxText:
		c.stopped = true
		c.add(n, path, "the document holds more than %d MiB of text; refusing to go on", maxText>>20)
	}
	return !c.stopped
}

// count counts one more value and reports whether conversion may go on.
func (c *converter) count(n *yaml.Node, path Path) bool {
	if c.stopped {
		return false
	}
	c.nodes++
	switch {
	case c.nodes > maxNodes && c.outer != nil:
		c.stopped = true
		c.problems = append(c.problems, Problem{File: c.doc.Name, Pos: Pos{c.outer.Line, c.outer.Column}, Path: c.outerPath,
			Message: fmt.Sprintf("aliases expand the document to more than %d values; refusing to go on", maxNodes),
			Hint:    "an alias of a value that itself holds aliases multiplies its size (a \"billion laughs\"); write the values out instead"})
	case c.nodes > maxNodes:
		c.stopped = true
		c.add(n, path, "the document holds more than %d values; refusing to go on", maxNodes)
	case len(path) > maxDepth:
		c.stopped = true
		// The path would be maxDepth tokens long; its start says where.
		c.add(n, path[:1], "values nest more than %d levels deep; refusing to go on", maxDepth)
	}
	return !c.stopped
}

// enter marks an anchored node as being converted. It reports false, with a
// problem at via (the alias or merge source that leads to n), when n already
// is: the alias lies inside the value it names.
func (c *converter) enter(n, via *yaml.Node, path Path) bool {
	if n.Anchor == "" {
		return true
	}
	if c.expanding[n] {
		c.add(via, path, "alias *%s is used inside the value it names, so that value would be infinite", n.Anchor)
		return false
	}
	if c.expanding == nil {
		c.expanding = map[*yaml.Node]bool{}
	}
	c.expanding[n] = true
	return true
}

func (c *converter) convert(n *yaml.Node, path Path) any {
	if !c.count(n, path) {
		return nil
	}
	via := n
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			c.replace(n, path, "alias *%s names no anchor", n.Value)
			return nil
		}
		if c.outer == nil {
			c.outer, c.outerPath = n, path
			defer func() { c.outer, c.outerPath = nil, nil }()
		}
		n = n.Alias
	}
	if !c.enter(n, via, path) {
		c.doc.replaced = append(c.doc.replaced, path)
		return nil
	}
	defer delete(c.expanding, n)
	switch n.Kind {
	case yaml.MappingNode:
		return c.mapping(n, path)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			out = append(out, c.convert(item, path.Child(strconv.Itoa(i))))
		}
		return out
	case yaml.ScalarNode:
		return c.scalar(n, path)
	}
	c.replace(n, path, "unsupported YAML node")
	return nil
}

func (c *converter) mapping(n *yaml.Node, path Path) map[string]any {
	out := make(map[string]any, len(n.Content)/2)
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			c.merge(out, seen, v, path)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			c.add(k, path, "mapping keys must be plain strings, got %s", describeNode(k))
			continue
		}
		if first, dup := seen[k.Value]; dup && first != nil {
			c.add(k, path.Child(k.Value), "duplicate key %q (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		if !c.spend(k, path, len(k.Value)) {
			return out
		}
		out[k.Value] = c.convert(v, path.Child(k.Value))
	}
	return out
}

// merge applies a YAML merge key (<<: *anchor or a list of them); keys
// already present win, as the YAML merge spec says.
func (c *converter) merge(out map[string]any, seen map[string]*yaml.Node, v *yaml.Node, path Path) {
	sources := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		sources = v.Content
	}
	for _, s := range sources {
		if !c.count(s, path) {
			return
		}
		src := deref(s)
		if src.Kind != yaml.MappingNode {
			c.add(s, path, "a merge key (<<) needs a mapping, got %s", describeNode(src))
			continue
		}
		if s.Kind == yaml.AliasNode && c.outer == nil {
			c.outer, c.outerPath = s, path
		}
		if !c.enter(src, s, path) {
			continue
		}
		m := c.mapping(src, path)
		delete(c.expanding, src)
		if c.outer == s {
			c.outer, c.outerPath = nil, nil
		}
		for k, val := range m {
			if _, ok := out[k]; !ok {
				out[k] = val
				if _, ok := seen[k]; !ok {
					seen[k] = nil
				}
			}
		}
	}
}

func (c *converter) scalar(n *yaml.Node, path Path) any {
	if !c.spend(n, path, len(n.Value)) {
		return nil
	}
	if v, ok := c.scalars[n]; ok {
		if c.replacedNode[n] {
			c.doc.replaced = append(c.doc.replaced, path)
		}
		return c.spendExpansion(n, path, v)
	}
	if c.scalars == nil {
		c.scalars, c.replacedNode = map[*yaml.Node]any{}, map[*yaml.Node]bool{}
	}
	before := len(c.doc.replaced)
	v := c.scalarValue(n, path)
	c.scalars[n] = v
	c.replacedNode[n] = len(c.doc.replaced) > before
	return c.spendExpansion(n, path, v)
}

// spendExpansion counts the bytes interpolation added to a string: a
// variable with a long value, used many times, must not grow a small file
// past maxText.
func (c *converter) spendExpansion(n *yaml.Node, path Path, v any) any {
	if s, ok := v.(string); ok && len(s) > len(n.Value) && !c.spend(n, path, len(s)-len(n.Value)) {
		return nil
	}
	return v
}

func (c *converter) scalarValue(n *yaml.Node, path Path) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil {
			return b
		}
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i
		}
		var f float64
		if err := n.Decode(&f); err == nil {
			return f
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil {
			if math.IsInf(f, 0) || math.IsNaN(f) {
				c.replace(n, path, "%s is not a number JSON can hold", n.Value)
				return nil
			}
			return f
		}
	case "!!str", "!!timestamp", "!!binary":
		return c.interpolate(n, path)
	}
	if strings.HasPrefix(n.Tag, "!!") || n.Tag == "" {
		return c.interpolate(n, path)
	}
	c.replace(n, path, "unsupported YAML tag %s", n.Tag)
	return nil
}

func (c *converter) interpolate(n *yaml.Node, path Path) string {
	s, errs := interpolate(n.Value, c.env, c.refuseSecret(path))
	for _, e := range errs {
		pos := Pos{n.Line, c.column(n, e.Offset)}
		c.problems = append(c.problems, Problem{File: c.doc.Name, Pos: pos, Path: path, Message: e.Message, Hint: e.Hint})
	}
	if len(errs) > 0 {
		c.doc.replaced = append(c.doc.replaced, path)
	}
	if s != n.Value {
		if c.doc.interpolated == nil {
			c.doc.interpolated = map[string]bool{}
		}
		c.doc.interpolated[path.Pointer()] = true
	}
	return s
}

// column returns the column of byte offset in scalar n's value when the
// source spells the value up to there as it is (a one-line plain or quoted
// scalar without escapes before it), else the column of n.
func (c *converter) column(n *yaml.Node, offset int) int {
	if c.lines == nil {
		c.lines = bytes.Split(c.src, []byte("\n"))
	}
	if n.Line < 1 || n.Line > len(c.lines) {
		return n.Column
	}
	rest := string(c.lines[n.Line-1])
	for i := 1; i < n.Column && rest != ""; i++ {
		_, size := utf8.DecodeRuneInString(rest)
		rest = rest[size:]
	}
	col := n.Column
	// The node starts at its anchor or tag, if any: skip them.
	for strings.HasPrefix(rest, "&") || strings.HasPrefix(rest, "!") {
		i := strings.IndexAny(rest, " \t")
		if i < 0 {
			return n.Column
		}
		j := i + len(rest[i:]) - len(strings.TrimLeft(rest[i:], " \t"))
		col += utf8.RuneCountInString(rest[:j])
		rest = rest[j:]
	}
	switch n.Style &^ yaml.TaggedStyle {
	case 0:
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if rest == "" {
			return n.Column
		}
		rest, col = rest[1:], col+1
	default:
		return n.Column
	}
	prefix := n.Value[:offset]
	if !strings.HasPrefix(rest, prefix) {
		return n.Column
	}
	return col + utf8.RuneCountInString(prefix)
}
