package schemagen

import (
	"bytes"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/testutil/repo"
	"github.com/prefect-apply/prefect-apply/schema"
)

// The committed schema must be what the config types generate.
func TestSchemaIsFresh(t *testing.T) {
	got, err := Generate(repo.Root(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, schema.JSON) {
		t.Fatal("schema/pools.schema.json is stale: run `make generate` and commit the result")
	}
}

func TestSchemaAllowsRootSchemaKeyAndRejectsUnknownFields(t *testing.T) {
	got, err := Generate(repo.Root(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"$schema": {`, `"additionalProperties": false`, `"markdownDescription"`, `"KubernetesResource"`} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("schema lacks %s", want)
		}
	}
}
