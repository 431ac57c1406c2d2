package schemagen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/state"
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

// docs/kinds.md must be what the table generates.
func TestKindsDocIsFresh(t *testing.T) {
	got, err := os.ReadFile(filepath.Join(repo.Root(t), "docs", "kinds.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, KindsDoc()) {
		t.Fatal("docs/kinds.md is stale: run `make generate` and commit the result")
	}
}

// The schema takes its kinds from state.Kinds: each manifest kind has its
// Go type and a definition with its apiVersion; the enums and the
// description of kubernetes.resources list exactly the table's kinds.
func TestSchemaKindsAreTheTables(t *testing.T) {
	kinds, err := manifestKinds()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		if k.Type.Name() != k.Kind {
			t.Errorf("%s: Go type %s", k.Kind, k.Type)
		}
	}
	var doc struct {
		Defs map[string]struct {
			Properties map[string]struct {
				Enum        []string
				Const       string
				Description string
			}
		} `json:"$defs"`
	}
	if err := json.Unmarshal(schema.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	manifests := state.KindNames(func(k state.KindInfo) bool { return k.Manifest })
	external := state.KindNames(func(k state.KindInfo) bool { return k.External })
	if got := doc.Defs["KubernetesResource"].Properties["kind"].Enum; fmt.Sprint(got) != fmt.Sprint(manifests) {
		t.Errorf("kubernetes.resources kinds %v, table %v", got, manifests)
	}
	if got := doc.Defs["ExternalObject"].Properties["kind"].Enum; fmt.Sprint(got) != fmt.Sprint(external) {
		t.Errorf("kubernetes.external kinds %v, table %v", got, external)
	}
	if d := doc.Defs["Kubernetes"].Properties["resources"].Description; !strings.HasSuffix(d, " Kinds: "+strings.Join(manifests, ", ")+".") {
		t.Errorf("kubernetes.resources description does not list the table's kinds: %s", d)
	}
	for _, k := range kinds {
		name := "io.k8s." + strings.ReplaceAll(strings.TrimPrefix(k.Type.PkgPath(), "k8s.io/"), "/", ".") + "." + k.Kind
		def, ok := doc.Defs[name]
		if !ok {
			t.Errorf("%s: no definition %s", k.Kind, name)
			continue
		}
		if def.Properties["apiVersion"].Const != k.APIVersion() || def.Properties["kind"].Const != k.Kind {
			t.Errorf("%s: apiVersion %q, kind %q", name, def.Properties["apiVersion"].Const, def.Properties["kind"].Const)
		}
	}
}

// A row whose API group schemagen does not know is an error naming it, not
// a schema without the kind.
func TestUnknownAPIGroupIsAnError(t *testing.T) {
	saved := state.Kinds
	t.Cleanup(func() { state.Kinds = saved })
	state.Kinds = append(append([]state.KindInfo{}, saved...),
		state.KindInfo{Kind: "Deployment", Group: "apps", Version: "v1", Resource: "deployments", Manifest: true})
	_, err := manifestKinds()
	if err == nil || !strings.Contains(err.Error(), "apps/v1 Deployment") || !strings.Contains(err.Error(), "AddToScheme") {
		t.Errorf("manifestKinds with an apps/v1 kind: %v", err)
	}
}
