package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/prefect-apply/prefect-apply/schema"
)

// head is the comment the file starts with, after the schema modeline.
func head(file string) string {
	if file == "" {
		file = "pools.yaml"
	}
	return `Written by prefect-apply export from the live work pools and queues.
Check it with prefect-apply validate and prefect-apply diff (exit status 0:
the file matches; objects this set does not own yet show as not managed),
then take them over without recreating anything:

  prefect-apply sync -f ` + file + ` --adopt`
}

// Encode writes the export as YAML: the yaml-language-server modeline on
// the first line, then a comment on how to adopt it (naming file), then the file with its keys in the order of
// the config types (and sorted within maps), each comment above the value
// at its path. Strings are quoted where YAML would read them as something
// else, and every $ is written $$, as interpolation reads it, but in the
// ${VAR} references written in place of secret values.
func Encode(w io.Writer, e *Export, file string) error {
	raw, err := json.Marshal(e.File)
	if err != nil {
		return fmt.Errorf("encoding the export: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	root, err := (&encoder{dec: dec, comments: e.Comments, refs: e.refPaths}).node("")
	if err != nil {
		return fmt.Errorf("encoding the export: %w", err)
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root},
		HeadComment: "# yaml-language-server: $schema=" + schema.URL + "\n#\n" + comment(head(file))}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encoding the export: %w", err)
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

func comment(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight("# "+l, " ")
	}
	return strings.Join(lines, "\n")
}

// encoder reads the file's JSON into YAML nodes: comments are placed
// above the value at each path, and the strings at refs are ${VAR}
// references, written as they are.
type encoder struct {
	dec      *json.Decoder
	comments map[string]string
	refs     map[string]bool
}

// node reads one JSON value into a YAML node, keeping the key order.
func (e *encoder) node(path string) (*yaml.Node, error) {
	dec, comments := e.dec, e.comments
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	var n *yaml.Node
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n = &yaml.Node{Kind: yaml.MappingNode}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := kt.(string)
				v, err := e.node(join(path, key))
				if err != nil {
					return nil, err
				}
				k := str(key, false)
				k.HeadComment, v.HeadComment = v.HeadComment, ""
				n.Content = append(n.Content, k, v)
			}
		case '[':
			n = &yaml.Node{Kind: yaml.SequenceNode}
			for i := 0; dec.More(); i++ {
				v, err := e.node(join(path, fmt.Sprint(i)))
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, v)
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
	case string:
		n = str(t, !e.refs[path])
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(t.String(), ".eE") {
			tag = "!!float"
		}
		n = &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: t.String()}
	case bool:
		n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(t)}
	case nil:
		n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	default:
		return nil, fmt.Errorf("unexpected JSON token %v (%s)", tok, reflect.TypeOf(tok))
	}
	if c, ok := comments[path]; ok {
		n.HeadComment = comment(c)
	}
	return n, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yaml11 are the plain scalars YAML 1.1 readers take for booleans; they
// are quoted so that every reader sees a string.
var yaml11 = map[string]bool{"y": true, "yes": true, "n": true, "no": true, "on": true, "off": true}

// str is a string scalar. A value has its $ doubled: the loader reads $$
// as a literal $ and ${...} as a variable.
func str(s string, value bool) *yaml.Node {
	if value {
		s = strings.ReplaceAll(s, "$", "$$")
	}
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if yaml11[strings.ToLower(s)] || s == "<<" {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}
