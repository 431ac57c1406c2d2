package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/cli"
)

// noEnv is an environment in which no variable is set.
var noEnv = &cli.Env{LookupEnv: func(string) (string, bool) { return "", false }}

// run runs the real command line with test streams.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ios, _, out, errOut := cli.Test()
	code = cli.Run(context.Background(), ios, noEnv, args)
	return code, out.String(), errOut.String()
}

const (
	example      = "../../examples/pools.yaml"
	exampleValid = example + ": valid (4 pools, 5 queues, 5 Kubernetes objects, 1 secret, set gbif)\n"
	broken       = "testdata/validate/broken.yaml"
	brokenErrors = broken + `:3:11: pools[0].name: pool names starting with "prefect" are reserved by Prefect
` + broken + `:7:35: pools[0].queues[1].priority: priority 1 is already used by queue "urgent"; priorities are unique within a pool
` + broken + ": 2 problems\n"
	valid      = "testdata/validate/valid.yaml"
	validValid = valid + ": valid (1 pool, 2 queues, 0 Kubernetes objects, 0 secrets, set team-a)\n"
	missing    = "testdata/validate/missing.yaml"
)

func TestValidate(t *testing.T) {
	tests := map[string]struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		"example": {
			args:   []string{"validate", "-f", example},
			code:   0,
			stdout: exampleValid,
		},
		"long flag": {
			args:   []string{"validate", "--file", valid},
			code:   0,
			stdout: validValid,
		},
		"broken file": {
			args:   []string{"validate", "-f", broken},
			code:   1,
			stderr: brokenErrors,
		},
		"several valid files": {
			args:   []string{"validate", "-f", example, "-f", valid},
			code:   0,
			stdout: exampleValid + validValid,
		},
		"several files, one broken": {
			args:   []string{"validate", "-f", example, "-f", broken, "-f", valid},
			code:   1,
			stdout: exampleValid + validValid,
			stderr: brokenErrors,
		},
		"missing file": {
			args:   []string{"validate", "-f", missing},
			code:   1,
			stderr: missing + ":1:1: (root): no such file (use -f to name the file)\n" + missing + ": 1 problem\n",
		},
		"missing and broken files": {
			args:   []string{"validate", "-f", missing, "-f", broken},
			code:   1,
			stderr: missing + ":1:1: (root): no such file (use -f to name the file)\n" + missing + ": 1 problem\n" + brokenErrors,
		},
		"a directory": {
			args:   []string{"validate", "-f", "testdata/validate"},
			code:   1,
			stderr: "testdata/validate:1:1: (root): reading: read testdata/validate: is a directory\ntestdata/validate: 1 problem\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			if stdout != tc.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, tc.stdout)
			}
			if stderr != tc.stderr {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, tc.stderr)
			}
		})
	}
}

func TestValidateRejectsArguments(t *testing.T) {
	code, stdout, stderr := run(t, "validate", "pools.yaml")
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, "Error: ") || !strings.Contains(stderr, `"pools.yaml"`) {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

func TestValidateDefaultFile(t *testing.T) {
	t.Chdir(t.TempDir())
	code, _, stderr := run(t, "validate")
	if want := "pools.yaml:1:1: (root): no such file (use -f to name the file)\npools.yaml: 1 problem\n"; code != 1 || stderr != want {
		t.Errorf("without pools.yaml: exit %d, stderr:\n%s\nwant:\n%s", code, stderr, want)
	}
	if err := os.WriteFile("pools.yaml", []byte("pools:\n  - {name: a, type: kubernetes}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "validate")
	if want := "pools.yaml: valid (1 pool, 0 queues, 0 Kubernetes objects, 0 secrets, set pools)\n"; code != 0 || stdout != want || stderr != "" {
		t.Errorf("with pools.yaml: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// envReference is a ${NAME} reference, whose outcome depends on the
// environment; validate resolves those from the process environment.
var envReference = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}`)

// TestValidateMatchesConfigGoldenFiles checks that internal/config's golden
// files are what the command prints: its stderr for a broken file is the
// golden file and the closing count.
func TestValidateMatchesConfigGoldenFiles(t *testing.T) {
	dir, err := filepath.Abs("../config/testdata/broken")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in %s: %v", dir, err)
	}
	t.Chdir(dir)
	for _, f := range files {
		name := filepath.Base(f)
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if envReference.Match(data) {
			continue
		}
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			golden, err := os.ReadFile(strings.TrimSuffix(name, ".yaml") + ".golden")
			if err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := run(t, "validate", "-f", name)
			body, last := splitLastLine(stderr)
			if code != 1 || stdout != "" || body != string(golden) || !regexp.MustCompile(`^`+regexp.QuoteMeta(name)+`: \d+ problems?\n$`).MatchString(last) {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s%s: N problems", code, stdout, stderr, golden, name)
			}
		})
	}
}

func splitLastLine(s string) (body, last string) {
	i := strings.LastIndex(strings.TrimSuffix(s, "\n"), "\n")
	return s[:i+1], s[i+1:]
}

// A Secret value that diff or sync cannot read is placed in the file, as
// validate's problems are, before any server is asked.
func TestUnreadableSecretValueIsPlaced(t *testing.T) {
	for _, args := range [][]string{{"diff"}, {"sync", "--yes"}} {
		cmd := args[0]
		code, stdout, stderr := run(t, append(args, "-f", example)...)
		want := example + `:63:20: kubernetes.secrets[0].keys.auth-string.fromEnv: secret prefect/prefect-basic-auth key "auth-string": environment variable PREFECT_API_AUTH_STRING is not set
    hint: diff and sync read Secret values, to compare them with the cluster's and to apply them; validate and --skip-kubernetes read none
Error: ` + example + `: a Secret value could not be read; nothing was read or changed
`
		if code != 1 || stdout != "" || stderr != want {
			t.Errorf("%s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant stderr:\n%s", cmd, code, stdout, stderr, want)
		}
	}
}

// A warning is printed on stderr and does not fail validate.
func TestValidateWarnsOfAnUnusedVariable(t *testing.T) {
	file := "../config/testdata/warnings/unused-variable.yaml"
	code, out, errOut := run(t, "validate", "-f", file)
	if code != 0 || !strings.Contains(out, ": valid (1 pool") ||
		!strings.Contains(errOut, `warning: `+file+`:18:13: pools[0].baseJobTemplate.variables.properties.gpu_count: variable "gpu_count" is declared, but job_configuration uses it nowhere`) {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
