package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validPool is a pool with no problem, for cases about something else.
const validPool = "pools:\n  - name: a\n    type: kubernetes\n"

func TestParse(t *testing.T) {
	tests := map[string]struct {
		src   string
		wants []want
	}{
		"empty file": {
			src:   "",
			wants: []want{{"1:1", "(root)", "file is empty; expected a mapping with `pools`", ""}},
		},
		"only comments": {
			src:   "# pools.yaml\n# nothing yet\n",
			wants: []want{{"1:1", "(root)", "file is empty", ""}},
		},
		"only a document marker": {
			src:   "---\n",
			wants: []want{{"2:1", "(root)", "file is empty", ""}},
		},
		"explicit null": {
			src:   "# nothing\n~\n",
			wants: []want{{"2:1", "(root)", "file is empty", ""}},
		},
		"list at the root": {
			src:   "- name: a\n  type: kubernetes\n",
			wants: []want{{"1:1", "(root)", "expected a mapping at the root (keys set, pools, kubernetes, prefect), got a list", ""}},
		},
		"string at the root": {
			src:   "\nhello\n",
			wants: []want{{"2:1", "(root)", `got the string "hello"`, ""}},
		},
		"number at the root": {
			src:   "42\n",
			wants: []want{{"1:1", "(root)", "got the number 42", ""}},
		},
		"boolean at the root": {
			src:   "true\n",
			wants: []want{{"1:1", "(root)", "got the boolean true", ""}},
		},
		"unclosed flow sequence": {
			src:   "pools: [\n",
			wants: []want{{"1:1", "(root)", "invalid YAML: did not find expected node content", ""}},
		},
		"unclosed flow sequence on a later line": {
			src:   validPool + "    queues: [{name: x}, {name: y}\n  - name: b\n",
			wants: []want{{"4:5", "(root)", "invalid YAML: did not find expected ',' or ']'", ""}},
		},
		"line indented less than its siblings": {
			src:   "pools:\n  - name: a\n   type: kubernetes\n",
			wants: []want{{"3:4", "(root)", "did not find expected '-' indicator (is this line indented like the ones before it?)", ""}},
		},
		"key outdented out of its list": {
			src:   "pools:\n  - name: a\n  type: kubernetes\n",
			wants: []want{{"3:3", "(root)", "did not find expected '-' indicator", ""}},
		},
		"unterminated quoted string": {
			src:   validPool + "    description: \"GPU jobs\n  - name: b\n    type: kubernetes\n",
			wants: []want{{"4:5", "(root)", "found unexpected end of stream (a quote or bracket opened here is never closed?)", ""}},
		},
		"unquoted colon in a value": {
			src:   validPool + "    description: GPU: fast\n",
			wants: []want{{"4:5", "(root)", `mapping values are not allowed in this context (a value that holds ": " needs quotes)`, ""}},
		},
		"tab indentation": {
			src:   "pools:\n\t- name: a\n",
			wants: []want{{"2:1", "(root)", "found character that cannot start any token (a tab? YAML indents with spaces only)", ""}},
		},
		"tab after spaces": {
			src:   "pools:\n  - name: a\n  \ttype: kubernetes\n",
			wants: []want{{"3:3", "(root)", "invalid YAML: found a tab character that violates indentation", ""}},
		},
		"unknown anchor": {
			src:   validPool + "    jobTemplate: *heavy\n",
			wants: []want{{"4:5", "(root)", "invalid YAML: unknown anchor 'heavy' referenced", ""}},
		},
		"second document": {
			src:   validPool + "---\n" + validPool,
			wants: []want{{"4:1", "(root)", "a second YAML document starts here; a pools.yaml holds exactly one (remove the `---` separator)", ""}},
		},
		"syntax error in a second document": {
			src:   validPool + "---\npools: [\n",
			wants: []want{{"5:1", "(root)", "invalid YAML: did not find expected node content", ""}},
		},
		"invalid UTF-8": {
			src:   validPool + "    description: caf\xe9\n",
			wants: []want{{"4:21", "(root)", "not a UTF-8 text file: unexpected byte here", ""}},
		},
		"invalid UTF-8 after multi-byte characters": {
			src:   "# ÆØÅ æøå\n\xff\n",
			wants: []want{{"2:1", "(root)", "not a UTF-8 text file", ""}},
		},
		"NUL byte": {
			src:   "pools:\x00\n",
			wants: []want{{"1:7", "(root)", "not a UTF-8 text file", ""}},
		},
		"UTF-16 file": {
			src:   "\xff\xfep\x00o\x00o\x00l\x00s\x00:\x00\n\x00",
			wants: []want{{"1:1", "(root)", "not a UTF-8 text file", ""}},
		},
		"control character": {
			src:   validPool + "    description: bell\x07\n",
			wants: []want{{"4:22", "(root)", "not a UTF-8 text file", ""}},
		},
		"file larger than the limit": {
			src:   "# " + strings.Repeat("x", MaxFileSize) + "\n",
			wants: []want{{"1:1", "(root)", "file is larger than 16 MiB; split it into several files with different sets", ""}},
		},
		"byte order mark": {
			src: "\ufeff" + validPool,
		},
		"CRLF line endings": {
			src:   "pools:\r\n  - name: prefect-a\r\n    type: kubernetes\r\n",
			wants: []want{{"2:11", "pools[0].name", `pool names starting with "prefect" are reserved`, ""}},
		},
		"complex mapping key": {
			src:   "? [pools, queues]\n: x\n",
			wants: []want{{"1:3", "(root)", "mapping keys must be plain strings, got a list", ""}},
		},
		"mapping as a key": {
			src:   "{a: 1}: b\n",
			wants: []want{{"1:1", "(root)", "mapping keys must be plain strings, got a mapping", ""}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, probs := validateSource("pools.yaml", []byte(tc.src), noEnv)
			checkProblems(t, probs, tc.wants)
			for _, p := range probs {
				if p.File != "pools.yaml" {
					t.Errorf("problem in file %q, want pools.yaml", p.File)
				}
			}
		})
	}
}

func TestParseLargeFileRefinement(t *testing.T) {
	// Beyond maxRefine, a syntax error keeps the parser's own line; it must
	// still be a position in the file.
	var b strings.Builder
	b.WriteString("pools:\n")
	for b.Len() <= maxRefine {
		b.WriteString("  - name: a\n    type: kubernetes\n")
	}
	b.WriteString("   type: b\n")
	_, probs := validateSource("pools.yaml", []byte(b.String()), noEnv)
	if len(probs) != 1 || !strings.Contains(probs[0].Message, "invalid YAML") || probs[0].Pos.Line < 1 || probs[0].Pos.Col < 1 {
		t.Fatalf("got %v", probs)
	}
}

func TestParseValue(t *testing.T) {
	doc, probs := Parse(strings.NewReader(yml(`
		set: team
		pools:
		  - name: a
		    type: kubernetes
		    concurrencyLimit: 3
		    paused: false
		    description: ~
	`)), "pools.yaml", Options{LookupEnv: noEnv})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	pool := doc.Value.(map[string]any)["pools"].([]any)[0].(map[string]any)
	if pool["concurrencyLimit"] != int64(3) || pool["paused"] != false || pool["description"] != nil || pool["name"] != "a" {
		t.Errorf("pool = %#v", pool)
	}
	if doc.Name != "pools.yaml" || doc.Dir != "" {
		t.Errorf("Name, Dir = %q, %q", doc.Name, doc.Dir)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "team-pools.yaml")
	if err := os.WriteFile(good, []byte(validPool), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		path  string
		wants []want
	}{
		"valid":          {path: good},
		"missing file":   {path: filepath.Join(dir, "nope.yaml"), wants: []want{{"1:1", "(root)", "no such file (use -f to name the file)", ""}}},
		"a directory":    {path: dir, wants: []want{{"1:1", "(root)", "reading: read " + dir + ": is a directory", ""}}},
		"standard input": {path: "-", wants: []want{{"1:1", "(root)", "reading the file from standard input is not supported: give its path", ""}}},
		"missing folder": {path: filepath.Join(dir, "no", "pools.yaml"), wants: []want{{"1:1", "(root)", "no such file", ""}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			doc, probs := LoadFile(tc.path, Options{LookupEnv: noEnv})
			checkProblems(t, probs, tc.wants)
			for _, p := range probs {
				if p.File != tc.path {
					t.Errorf("problem in file %q, want %q", p.File, tc.path)
				}
			}
			if len(tc.wants) > 0 {
				return
			}
			if doc.Dir != dir {
				t.Errorf("Dir = %q, want %q", doc.Dir, dir)
			}
			f, probs := doc.Validate()
			if len(probs) > 0 {
				t.Fatal(probs)
			}
			if f.Set != "team-pools" {
				t.Errorf("Set = %q, want the default set team-pools", f.Set)
			}
		})
	}
}

func TestParseReadError(t *testing.T) {
	_, probs := Parse(&failingReader{}, "pools.yaml", Options{LookupEnv: noEnv})
	checkProblems(t, probs, []want{{"1:1", "(root)", "reading: disk on fire", ""}})
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestDocumentPos(t *testing.T) {
	doc, probs := Parse(strings.NewReader(yml(`
		pools:
		  - name: a
		    type: kubernetes
		    jobTemplate: &t
		      image: x
		  - name: b
		    type: kubernetes
		    jobTemplate:
		      <<: *t
		      namespace: jobs
		    queues: [{name: q}]
		  - &self
		    name: c
		    <<: *self
	`)), "pools.yaml", Options{LookupEnv: noEnv})
	if doc == nil {
		t.Fatal(probs)
	}
	tests := map[string]struct {
		path     Path
		pos, key string
	}{
		"root":                  {nil, "1:1", "1:1"},
		"key and value":         {Path{"pools", "0", "type"}, "3:11", "3:5"},
		"list item":             {Path{"pools", "1"}, "6:5", "6:5"},
		"flow item":             {Path{"pools", "1", "queues", "0", "name"}, "11:21", "11:15"},
		"through a merge":       {Path{"pools", "1", "jobTemplate", "image"}, "5:14", "5:7"},
		"key beside a merge":    {Path{"pools", "1", "jobTemplate", "namespace"}, "10:18", "10:7"},
		"missing field":         {Path{"pools", "0", "jobTemplate", "namespace"}, "4:5", "4:5"},
		"missing list item":     {Path{"pools", "9", "name"}, "1:1", "1:1"},
		"index into a mapping":  {Path{"pools", "0", "0"}, "2:5", "2:5"},
		"merge of itself":       {Path{"pools", "2", "nope"}, "12:5", "12:5"},
		"value in a self-merge": {Path{"pools", "2", "name"}, "13:11", "13:5"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if p := doc.Pos(tc.path); fmt.Sprintf("%d:%d", p.Line, p.Col) != tc.pos {
				t.Errorf("Pos(%s) = %d:%d, want %s", tc.path, p.Line, p.Col, tc.pos)
			}
			if p := doc.KeyPos(tc.path); fmt.Sprintf("%d:%d", p.Line, p.Col) != tc.key {
				t.Errorf("KeyPos(%s) = %d:%d, want %s", tc.path, p.Line, p.Col, tc.key)
			}
		})
	}
}
