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
