package config

import (
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

// Pos returns the source position of the value at path or, when the path
// is not in the source (a field left out), of the key of its nearest
// ancestor that is.
func (d *Document) Pos(p Path) Pos {
	k, v, found := d.lookup(p)
	if !found {
		return Pos{k.Line, k.Column}
	}
	return Pos{v.Line, v.Column}
}

// KeyPos returns the position of the key that holds the value at path (for a
// list item, the item itself).
func (d *Document) KeyPos(p Path) Pos {
	k, _, _ := d.lookup(p)
	return Pos{k.Line, k.Column}
}

// lookup walks the YAML tree along p and returns the key node and the value
// node of the deepest element found, and whether that is p's.
func (d *Document) lookup(p Path) (key, value *yaml.Node, found bool) {
	n := d.root
	if n == nil {
		return &yaml.Node{Line: 1, Column: 1}, &yaml.Node{Line: 1, Column: 1}, false
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	key, found = n, true
	for _, tok := range p {
		n = deref(n)
		k, v := child(n, tok, 0)
		if v == nil {
			found = false
			break
		}
		key, n = k, v
	}
	return key, deref(n), found
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// maxMergeDepth bounds how many merge keys (<<) child follows: a merge of
// an anchor into itself would otherwise never end.
const maxMergeDepth = 50

func child(n *yaml.Node, tok string, merges int) (key, value *yaml.Node) {
	switch n.Kind {
	case yaml.SequenceNode:
		i, err := strconv.Atoi(tok)
		if err != nil || i < 0 || i >= len(n.Content) {
			return nil, nil
		}
		return n.Content[i], n.Content[i]
	case yaml.MappingNode:
		var merged []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Tag == "!!merge" {
				merged = append(merged, n.Content[i+1])
				continue
			}
			if k.Value == tok {
				return k, n.Content[i+1]
			}
		}
		if merges >= maxMergeDepth {
			return nil, nil
		}
		for _, m := range merged {
			m = deref(m)
			srcs := []*yaml.Node{m}
			if m.Kind == yaml.SequenceNode {
				srcs = m.Content
			}
			for _, s := range srcs {
				if k, v := child(deref(s), tok, merges+1); v != nil {
					return k, v
				}
			}
		}
	}
	return nil, nil
}
