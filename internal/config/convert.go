package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// converter turns a YAML tree into JSON-compatible values, interpolating
// strings and reporting duplicate keys, unsupported keys and aliasing that
// expands past maxNodes.
type converter struct {
	doc      *Document
	env      func(string) (string, bool)
	problems Problems
	nodes    int
	stopped  bool
}

func (c *converter) add(n *yaml.Node, path Path, format string, args ...any) {
	c.problems = append(c.problems, Problem{File: c.doc.Name, Pos: Pos{n.Line, n.Column}, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *converter) convert(n *yaml.Node, path Path) any {
	if c.stopped {
		return nil
	}
	c.nodes++
	if c.nodes > maxNodes {
		c.stopped = true
		c.add(n, path, "document expands to more than %d values (aliases that refer to aliases?); refusing to go on", maxNodes)
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		return c.convert(n.Alias, path)
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
	c.add(n, path, "unsupported YAML node")
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
		src := s
		for src.Kind == yaml.AliasNode {
			src = src.Alias
		}
		if src.Kind != yaml.MappingNode {
			c.add(s, path, "a merge key (<<) needs a mapping, got %s", describeNode(src))
			continue
		}
		m := c.mapping(src, path)
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
				c.add(n, path, "%s is not a number JSON can hold", n.Value)
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
	c.add(n, path, "unsupported YAML tag %s", n.Tag)
	return nil
}

func (c *converter) interpolate(n *yaml.Node, path Path) string {
	s, errs := Interpolate(n.Value, c.env)
	for _, e := range errs {
		pos := Pos{n.Line, n.Column}
		if n.Style == 0 && !strings.Contains(n.Value[:e.Offset], "\n") {
			pos.Col += e.Offset
		}
		c.problems = append(c.problems, Problem{File: c.doc.Name, Pos: pos, Path: path, Message: e.Message, Hint: e.Hint})
	}
	return s
}
