package schemagen

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/prefect-apply/prefect-apply/schema"
)

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// The committed schema must be what the config types generate.
func TestSchemaIsFresh(t *testing.T) {
	got, err := Generate(moduleRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, schema.JSON) {
		t.Fatal("schema/pools.schema.json is stale: run `make generate` and commit the result")
	}
}

func TestSchemaAllowsRootSchemaKeyAndRejectsUnknownFields(t *testing.T) {
	got, err := Generate(moduleRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"$schema": {`, `"additionalProperties": false`, `"markdownDescription"`, `"KubernetesResource"`} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("schema lacks %s", want)
		}
	}
}
