package redact

import (
	"encoding/base64"
	"reflect"
	"sync"
	"testing"
)

func TestString(t *testing.T) {
	var s Set
	s.Add("", "short", "s3cret-value", "s3cret-value-longer", "line-secret\n", "quote\"secret<")
	tests := map[string]string{
		"":                                 "",
		"nothing here":                     "nothing here",
		"a s3cret-value b":                 "a X b",
		"s3cret-value-longer":              "X", // the longest first, whole
		"s3cret-values3cret-value":         "XX",
		"short and empty stay":             "short and empty stay",
		"file: line-secret end":            "file: X end", // without its newline
		"file: line-secret\n":              "file: X",
		"json: \"quote\\\"secret\\u003c\"": "json: \"X\"",
		"json: quote\\\"secret<":           "json: X",
		"b64: " + base64.StdEncoding.EncodeToString([]byte("s3cret-value")): "b64: X",
	}
	for in, want := range tests {
		if got, changed := s.String(in, "X"); got != want || changed != (in != want) {
			t.Errorf("String(%q) = %q, %v; want %q", in, got, changed, want)
		}
	}
}

func TestMinLength(t *testing.T) {
	var s Set
	s.Add("1234567", "")
	if s.Len() != 0 {
		t.Errorf("values shorter than %d are kept: %d", MinLength, s.Len())
	}
	if got, changed := s.String("1234567", "X"); got != "1234567" || changed {
		t.Errorf("a short value was masked: %q", got)
	}
	s.Add("12345678")
	if got, _ := s.String("a 12345678", "X"); got != "a X" {
		t.Errorf("a value of %d bytes was not masked: %q", MinLength, got)
	}
}

func TestNilAndEmpty(t *testing.T) {
	var nilSet *Set
	nilSet.Add("s3cret-value")
	if got, changed := nilSet.String("s3cret-value", "X"); got != "s3cret-value" || changed {
		t.Errorf("nil set: %q", got)
	}
	var empty Set
	v := map[string]any{"a": "s3cret-value"}
	if got, changed := empty.Value(v, "X"); !reflect.DeepEqual(got, v) || changed {
		t.Errorf("empty set: %v", got)
	}
}

func TestValue(t *testing.T) {
	var s Set
	s.Add("s3cret-value")
	type named struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	in := map[string]any{
		"keep":         []any{"x", 1.0, true, nil},
		"s3cret-value": "as a key",
		"nested":       map[string]any{"list": []any{"pre s3cret-value post", 2.0}},
		"labels":       map[string]string{"k": "s3cret-value"},
		"typed":        []named{{"A", "s3cret-value"}},
		"number":       3.0,
	}
	got, changed := s.Value(in, "X")
	want := map[string]any{
		"keep":   []any{"x", 1.0, true, nil},
		"X":      "as a key",
		"nested": map[string]any{"list": []any{"pre X post", 2.0}},
		"labels": map[string]string{"k": "X"},
		"typed":  []any{map[string]any{"name": "A", "value": "X"}},
		"number": 3.0,
	}
	if !changed || !reflect.DeepEqual(got, want) {
		t.Errorf("Value = %v, %v\nwant %v", got, changed, want)
	}
	// The input is left as it was.
	if in["nested"].(map[string]any)["list"].([]any)[0] != "pre s3cret-value post" || in["s3cret-value"] != "as a key" ||
		in["labels"].(map[string]string)["k"] != "s3cret-value" {
		t.Errorf("Value changed its input: %v", in)
	}
	// Nothing to mask: the same value back.
	same := map[string]any{"a": []any{"b"}}
	if got, changed := s.Value(same, "X"); changed || !reflect.DeepEqual(got, same) {
		t.Errorf("Value of a clean value = %v, %v", got, changed)
	}
}

func TestConcurrentUse(t *testing.T) {
	var s Set
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Add("s3cret-value-" + string(rune('a'+i)))
			s.String("s3cret-value-a", "X")
		}()
	}
	wg.Wait()
	if got, _ := s.String("s3cret-value-h", "X"); got != "X" {
		t.Errorf("got %q", got)
	}
}
