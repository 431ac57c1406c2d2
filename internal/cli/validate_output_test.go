package cli_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const warning = "testdata/validate/warning.yaml"

// golden compares got with testdata/NAME.golden; -update rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// validate -o json and -o github print every file's problems and warnings
// on stdout, nothing on stderr, and exit as the text output does.
func TestValidateOutputFormats(t *testing.T) {
	tests := map[string]struct {
		args []string
		code int
	}{
		"validate.json":         {[]string{"validate", "-o", "json", "-f", warning, "-f", broken, "-f", missing}, 1},
		"validate.github":       {[]string{"validate", "-o", "github", "-f", warning, "-f", broken, "-f", missing}, 1},
		"validate-valid.json":   {[]string{"validate", "--output", "json", "-f", valid}, 0},
		"validate-valid.github": {[]string{"validate", "--output", "github", "-f", warning}, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != tc.code || stderr != "" {
				t.Errorf("exit %d (want %d), stderr:\n%s", code, tc.code, stderr)
			}
			golden(t, name, stdout)
		})
	}
}

func TestValidateRejectsUnknownOutput(t *testing.T) {
	code, _, stderr := run(t, "validate", "-o", "markdown", "-f", valid)
	if code != 1 || !strings.Contains(stderr, `--output "markdown": use text, json or github`) {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}
