package repo

import (
	"os"
	"path/filepath"
	"testing"
)

// The root holds the module's go.mod and the hack scripts, from this
// package's directory as from any other.
func TestRoot(t *testing.T) {
	dir := Root(t)
	for _, p := range []string{"go.mod", filepath.Join("hack", "kube", "start.sh"), filepath.Join("examples", "pools.yaml")} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("the root %s has no %s: %v", dir, p, err)
		}
	}
	if got, want := Path(t, "examples", "pools.yaml"), filepath.Join(dir, "examples", "pools.yaml"); got != want {
		t.Errorf("Path = %s, want %s", got, want)
	}
}

// A go.mod of another module (the tools under hack/tools) is not the root.
func TestDeclaresModule(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"ours":   "// comment\nmodule github.com/prefect-apply/prefect-apply\n\ngo 1.26\n",
		"quoted": "module \"github.com/prefect-apply/prefect-apply\"\n",
		"tools":  "module github.com/prefect-apply/prefect-apply/hack/tools/etcd\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]bool{"ours": true, "quoted": true, "tools": false, "missing": false} {
		if got := declaresModule(filepath.Join(dir, name)); got != want {
			t.Errorf("%s: declaresModule = %v, want %v", name, got, want)
		}
	}
}
