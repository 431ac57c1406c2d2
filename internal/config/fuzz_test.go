package config

import (
	"bytes"
	"os"
	"testing"
)

// FuzzValidate feeds arbitrary files to Parse and Validate, seeded with the
// example and the broken corpus. Whatever the input: no panic, every
// problem positioned (line and column from 1) with a message, problems
// sorted, and a valid file only when there is no problem. Run it with
// `make fuzz`; crashers land in testdata/fuzz/FuzzValidate and then run
// as regression cases with every `go test`.
func FuzzValidate(f *testing.F) {
	example, err := os.ReadFile("../../examples/pools.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	for _, c := range brokenCases(f) {
		if _, generated := generatedCases[c.name]; generated {
			continue // too large for a seed; the fuzzer does not need them
		}
		f.Add(c.data())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lookup := env(map[string]string{"IMAGE": "img", "EMPTY": ""})
		doc, probs := Parse(bytes.NewReader(data), "fuzz.yaml", Options{LookupEnv: lookup})
		if doc == nil && len(probs) == 0 {
			t.Fatal("Parse returned neither a document nor problems")
		}
		checkInvariants(t, probs)
		if doc == nil {
			return
		}
		file, probs := doc.Validate()
		checkInvariants(t, probs)
		if (file == nil) == (len(probs) == 0) {
			t.Fatalf("Validate returned file %v with %d problems", file != nil, len(probs))
		}
		if file != nil && file.Set == "" {
			t.Fatal("valid file without a set")
		}
	})
}
