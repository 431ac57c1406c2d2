package config

import (
	"encoding/json"
	"testing"
)

func TestPathString(t *testing.T) {
	tests := map[string]struct {
		path        Path
		str, ptrStr string
	}{
		"root":           {nil, "(root)", ""},
		"key":            {Path{"pools"}, "pools", "/pools"},
		"index":          {Path{"pools", "1", "queues", "0", "priority"}, "pools[1].queues[0].priority", "/pools/1/queues/0/priority"},
		"dotted key":     {Path{"labels", "nvidia.com/gpu"}, `labels."nvidia.com/gpu"`, "/labels/nvidia.com~1gpu"},
		"key with tilde": {Path{"a~b"}, "a~b", "/a~0b"},
		"empty key":      {Path{"keys", ""}, `keys.""`, "/keys/"},
		"space":          {Path{"keys", "api key"}, `keys."api key"`, "/keys/api key"},
		"leading index":  {Path{"0", "a"}, "[0].a", "/0/a"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.path.String(); got != tc.str {
				t.Errorf("String() = %q, want %q", got, tc.str)
			}
			if got := tc.path.Pointer(); got != tc.ptrStr {
				t.Errorf("Pointer() = %q, want %q", got, tc.ptrStr)
			}
		})
	}
}

func TestPathChildDoesNotAlias(t *testing.T) {
	base := make(Path, 1, 10)
	base[0] = "pools"
	a := base.Child("0")
	b := base.Child("1")
	if a.String() != "pools[0]" || b.String() != "pools[1]" || len(base) != 1 {
		t.Errorf("a = %s, b = %s, base = %s", a, b, base)
	}
}

func TestProblemError(t *testing.T) {
	tests := map[string]struct {
		p    Problem
		want string
	}{
		"plain": {
			Problem{File: "pools.yaml", Pos: Pos{3, 5}, Path: Path{"pools", "0"}, Message: `missing required field "type"`},
			`pools.yaml:3:5: pools[0]: missing required field "type"`,
		},
		"root with hint": {
			Problem{File: "p.yaml", Pos: Pos{1, 1}, Message: "invalid YAML", Hint: "one\ntwo"},
			"p.yaml:1:1: (root): invalid YAML\n    hint: one\n    two",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.p.Error(); got != tc.want {
				t.Errorf("Error() =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	ps := Problems{tests["plain"].p, tests["root with hint"].p}
	if got, want := ps.Error(), tests["plain"].want+"\n"+tests["root with hint"].want; got != want {
		t.Errorf("Problems.Error() =\n%s\nwant\n%s", got, want)
	}
}

func TestProblemsSort(t *testing.T) {
	p := func(file string, line, col int, msg, path, hint string) Problem {
		return Problem{File: file, Pos: Pos{line, col}, Path: Path{path}, Message: msg, Hint: hint}
	}
	want := Problems{
		p("a.yaml", 9, 9, "z", "z", ""),
		p("b.yaml", 1, 1, "m", "a", ""),
		p("b.yaml", 1, 1, "m", "b", ""),
		p("b.yaml", 1, 1, "m", "b", "h"),
		p("b.yaml", 1, 1, "n", "a", ""),
		p("b.yaml", 1, 2, "a", "a", ""),
		p("b.yaml", 2, 1, "a", "a", ""),
		p("b.yaml", 10, 1, "a", "a", ""),
	}
	got := Problems{want[7], want[3], want[5], want[0], want[2], want[6], want[1], want[4]}
	got.Sort()
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	if string(a) != string(b) {
		t.Errorf("sorted:\n%s\nwant:\n%s", got.Error(), want.Error())
	}
}

func TestProblemJSON(t *testing.T) {
	raw, err := json.Marshal(Problem{File: "p.yaml", Pos: Pos{2, 3}, Path: Path{"pools", "0"}, Message: "m"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"file":"p.yaml","position":{"line":2,"column":3},"path":["pools","0"],"message":"m"}`
	if string(raw) != want {
		t.Errorf("JSON = %s, want %s", raw, want)
	}
}
