package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The warnings corpus: testdata/warnings/NAME.yaml is a file validate
// accepts, and NAME.golden is exactly the warnings it prints for it, as
// Problems.Error renders them (refresh with -update, then read the diff).
func TestWarningsCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/warnings/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no warnings corpus: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			wd, _ := os.Getwd()
			t.Chdir(filepath.Dir(file))
			defer t.Chdir(wd)
			doc, probs := LoadFile(name+".yaml", Options{LookupEnv: func(string) (string, bool) { return "", false }})
			if len(probs) > 0 {
				t.Fatalf("not valid: %s", probs)
			}
			f, probs := doc.Validate()
			if len(probs) > 0 {
				t.Fatalf("not valid: %s", probs)
			}
			warnings := doc.Warnings(f)
			if len(warnings) == 0 {
				t.Fatal("no warning")
			}
			got := warnings.Error() + "\n"
			golden := name + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("warnings:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
