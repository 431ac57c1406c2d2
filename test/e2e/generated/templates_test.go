// Package generated checks that committed generated files match what their
// generators produce now.
package generated

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/testutil/repo"
	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

// The embedded default job templates must be what the pinned
// prefect-kubernetes and prefect packages produce.
func TestDefaultTemplatesAreFresh(t *testing.T) {
	root := repo.Root(t)
	tmp := t.TempDir()
	cmd := exec.Command(servers.VenvPython(t), filepath.Join(root, "hack", "prefect", "gen-default-templates.py"), tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen-default-templates.py: %v\n%s", err, out)
	}
	for _, name := range []string{"kubernetes.json", "process.json", "versions.json"} {
		want, err := os.ReadFile(filepath.Join(tmp, "internal", "jobtemplate", "defaults", name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(root, "internal", "jobtemplate", "defaults", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("internal/jobtemplate/defaults/%s is stale: run `make generate` and commit the result", name)
		}
	}
}
