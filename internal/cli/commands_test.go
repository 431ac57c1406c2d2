package cli

import (
	"context"
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command's --help has an Example section.
func TestEveryCommandHasExamples(t *testing.T) {
	ios, _, _, _ := Test()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no examples", c.CommandPath())
		}
		if c.Short == "" {
			t.Errorf("%q has no short description", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRootCmd(ios, nil))

	ios, _, out, _ := Test()
	if code := Run(context.Background(), ios, &Env{}, []string{"export", "--help"}); code != 0 || !strings.Contains(out.String(), "Examples:\n  # Everything on the server") {
		t.Errorf("export --help: exit %d\n%s", code, out.String())
	}
}

func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "__start_prefect-apply", "zsh": "#compdef prefect-apply", "fish": "complete -c prefect-apply",
		"powershell": "Register-ArgumentCompleter",
	} {
		ios, _, out, errOut := Test()
		if code := Run(context.Background(), ios, &Env{}, []string{"completion", shell}); code != 0 || !strings.Contains(out.String(), want) {
			t.Errorf("completion %s: exit %d, output lacks %q\n%s", shell, code, want, errOut.String())
		}
	}
	ios, _, _, errOut := Test()
	if code := Run(context.Background(), ios, &Env{}, []string{"completion"}); code != 1 || !strings.Contains(errOut.String(), "name a shell") {
		t.Errorf("completion without a shell: exit %d, %s", code, errOut.String())
	}
	// The scripts complete the commands and flags of this tree.
	ios, _, out, _ := Test()
	Run(context.Background(), ios, &Env{}, []string{"__complete", "sync", "--ad"})
	if !strings.Contains(out.String(), "--adopt") {
		t.Errorf("completing sync --ad: %s", out.String())
	}
	// Flag values and render's pool names.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"diff", "-o", ""}, "text\njson\nmarkdown\ngithub\n:4\n"},
		{[]string{"validate", "-o", ""}, "text\njson\ngithub\n:4\n"},
		{[]string{"status", "-o", ""}, "text\njson\n:4\n"},
		{[]string{"render", "-f", "../../examples/pools.yaml", ""}, "gbif-automations\ncpu-intensive\nmemory-intensive\ngpu-tasks\n:4\n"},
		{[]string{"render", "-f", "../../examples/pools.yaml", "gpu-tasks", ""}, ":4\n"},
		{[]string{"render", "-f", "nonexistent.yaml", ""}, ":4\n"},
	} {
		ios, _, out, _ := Test()
		Run(context.Background(), ios, &Env{}, append([]string{"__complete"}, tc.args...))
		if out.String() != tc.want {
			t.Errorf("completing %q: %q, want %q", tc.args, out.String(), tc.want)
		}
	}
}

func TestVersion(t *testing.T) {
	fake := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/prefect-apply/prefect-apply", Version: "v1.2.3"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-11-26T20:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}, true
	}
	v, err := readVersion(fake)
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != "v1.2.3" || v.Revision != "abc123" || !v.Modified || v.Module != "github.com/prefect-apply/prefect-apply" || v.Templates["prefect-kubernetes"] == "" || v.Templates["prefect"] == "" {
		t.Errorf("version info = %+v", v)
	}
	ios, _, out, _ := Test()
	writeVersion(ios, v)
	for _, want := range []string{"prefect-apply v1.2.3", "go1.26.8", "abc123 (modified), 2026-11-26T20:00:00Z", "prefect-kubernetes " + v.Templates["prefect-kubernetes"]} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version output lacks %q:\n%s", want, out.String())
		}
	}

	// An -ldflags version wins over the module's.
	old := Version
	Version = "v9.9.9"
	defer func() { Version = old }()
	if v, _ := readVersion(fake); v.Version != "v9.9.9" {
		t.Errorf("version %q, want the -ldflags one", v.Version)
	}

	ios, _, out, _ = Test()
	if code := Run(context.Background(), ios, &Env{}, []string{"version", "-o", "json"}); code != 0 {
		t.Fatalf("version -o json: exit %d", code)
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc["goVersion"] == "" || doc["templates"] == nil {
		t.Errorf("version -o json: %v\n%s", err, out.String())
	}
}

// Arguments a command cannot take are refused before anything is read,
// each saying what to give instead; help shows no flag placeholder taken
// from a word of its text.
func TestArgumentMistakes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"diff", "-f", "a.yaml", "-f", "b.yaml"}, `-f is given more than once ("a.yaml", then "b.yaml"): diff works on one file; run it once per file`},
		{[]string{"sync", "-f", "a.yaml", "--file", "b.yaml", "--yes"}, "sync works on one file"},
		{[]string{"render", "-f", "a.yaml", "-f", "b.yaml", "x"}, "render works on one file"},
		{[]string{"status", "-f", "a.yaml", "-f", "b.yaml"}, "status works on one file"},
		{[]string{"render", "-f", "a.yaml"}, "render prints one pool's template: give its name, e.g. prefect-apply render -f pools.yaml gpu-tasks (got 0 arguments)"},
		{[]string{"sync", "-f", "a.yaml", "--concurrency", "0", "--yes"}, "--concurrency 0: give at least 1"},
		{[]string{"status", "--set", "team"}, "--set team: status uses a set only with -f"},
	} {
		ios, _, out, errOut := Test()
		code := Run(context.Background(), ios, &Env{}, tc.args)
		stdout, stderr := out.String(), errOut.String()
		if code != 1 || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("%s: exit %d, want 1 with %q\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), code, tc.want, stdout, stderr)
		}
	}
	for _, cmd := range []string{"diff", "sync"} {
		ios, _, out, _ := Test()
		Run(context.Background(), ios, &Env{}, []string{cmd, "--help"})
		if stdout := out.String(); !strings.Contains(stdout, "--adopt ") || strings.Contains(stdout, "--adopt export") {
			t.Errorf("%s --help shows --adopt with a value:\n%s", cmd, out.String())
		}
	}
}
