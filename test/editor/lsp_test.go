// Package editor proves that schema/pools.schema.json works where pools.yaml
// files are edited: it runs the real yaml-language-server (the server behind
// the VS Code YAML extension, coc-yaml and Neovim's yamlls), pinned in
// package.json and installed by `npm ci`, speaks LSP to it over stdio and
// checks the diagnostics it publishes for examples/pools.yaml and for
// copies of it with known mistakes.
//
// The server runs offline: the schema is a local file, the JSON Schema Store
// and the Kubernetes CRD catalog are off, and HTTP goes to a proxy that does
// not exist, so any attempt to fetch something shows up as a diagnostic.
package editor

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	serverScript = "node_modules/yaml-language-server/bin/yaml-language-server"
	// Budget for starting the server and running every case; the server
	// validates 200ms after a change, the cases take a few seconds.
	testTimeout = 30 * time.Second
	// Diagnostics are final when none have followed for this long.
	settleTime = 600 * time.Millisecond
	// Where HTTP requests go: nothing listens on the discard port.
	deadProxy = "http://127.0.0.1:9"
)

// settings are the client's settings, returned for workspace/configuration.
var settings = map[string]any{
	"yaml": map[string]any{
		"validate":           true,
		"hover":              false,
		"completion":         false,
		"format":             map[string]any{"enable": false},
		"schemaStore":        map[string]any{"enable": false},
		"kubernetesCRDStore": map[string]any{"enable": false},
		"schemas":            map[string]any{},
		"yamlVersion":        "1.2",
	},
	"http": map[string]any{"proxy": deadProxy, "proxyStrictSSL": true},
}

func TestYAMLLanguageServer(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping yaml-language-server test in -short mode")
	}
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(filepath.Dir(here)) // test/editor -> repository root
	schemaPath := filepath.Join(root, "schema", "pools.schema.json")
	examplePath := filepath.Join(root, "examples", "pools.yaml")
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	example := string(data)

	installServer(t, here)

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	srv, err := StartServer(here, serverScript,
		[]string{"HTTP_PROXY=" + deadProxy, "HTTPS_PROXY=" + deadProxy, "http_proxy=" + deadProxy, "https_proxy=" + deadProxy},
		settings)
	if err != nil {
		t.Fatalf("starting yaml-language-server on node %s (it needs %s): %v", nodeVersion(), nodeRequirement, err)
	}
	t.Cleanup(srv.Kill)

	var initResult struct {
		ServerInfo struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"serverInfo"`
	}
	err = srv.Call(ctx, "initialize", map[string]any{
		// processId: the server exits by itself if this process dies.
		"processId":        os.Getpid(),
		"clientInfo":       map[string]any{"name": "prefect-apply editor test"},
		"locale":           "en",
		"rootUri":          FileURI(root),
		"rootPath":         root,
		"workspaceFolders": []any{map[string]any{"uri": FileURI(root), "name": filepath.Base(root)}},
		"capabilities": map[string]any{
			"workspace": map[string]any{
				"configuration":          true,
				"didChangeConfiguration": map[string]any{"dynamicRegistration": false},
				"workspaceFolders":       true,
			},
			"textDocument": map[string]any{
				"synchronization":    map[string]any{"dynamicRegistration": false},
				"publishDiagnostics": map[string]any{"relatedInformation": true, "versionSupport": true},
			},
		},
	}, &initResult)
	if err != nil {
		t.Fatalf("initialize, on node %s (yaml-language-server needs %s): %v\nstderr:\n%s",
			nodeVersion(), nodeRequirement, err, srv.Stderr())
	}
	t.Logf("%s %s on node %s", initResult.ServerInfo.Name, initResult.ServerInfo.Version, nodeVersion())
	if want := pinnedVersion(t, here); initResult.ServerInfo.Version != want {
		t.Fatalf("running yaml-language-server %q, package.json pins %q", initResult.ServerInfo.Version, want)
	}
	if err := srv.Notify("initialized", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	// With the configuration capability the server ignores these settings
	// and asks for them with workspace/configuration; clients send both.
	if err := srv.Notify("workspace/didChangeConfiguration", map[string]any{"settings": settings}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	absModeline := "# yaml-language-server: $schema=" + FileURI(schemaPath)
	withModeline := func(doc, modeline string) string {
		return replaceOnce(t, doc, "# yaml-language-server: $schema=../schema/pools.schema.json", modeline)
	}

	// check opens doc as path and returns its settled diagnostics.
	check := func(t *testing.T, path, doc string) []Diagnostic {
		t.Helper()
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := srv.Open(path, doc); err != nil {
			t.Fatal(err)
		}
		defer srv.Close(path)
		diags, err := srv.Diagnostics(ctx, path, settleTime)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range diags {
			t.Logf("diagnostic: %s", d)
		}
		return diags
	}

	t.Run("example as it is", func(t *testing.T) {
		// Opened under its own path: the modeline's relative path resolves
		// against the document's directory, as in an editor.
		if err := srv.Open(examplePath, example); err != nil {
			t.Fatal(err)
		}
		defer srv.Close(examplePath)
		diags, err := srv.Diagnostics(ctx, examplePath, settleTime)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range diags {
			t.Errorf("unexpected diagnostic: %s", d)
		}
	})

	typo := replaceOnce(t, example, "      imagePullPolicy: Always\n", "      imagePullPolcy: Always\n")

	t.Run("example with a typo, modeline as it is", func(t *testing.T) {
		// The same path and modeline as above: shows that the example's
		// relative modeline really brings the schema in.
		if err := srv.Open(examplePath, typo); err != nil {
			t.Fatal(err)
		}
		defer srv.Close(examplePath)
		diags, err := srv.Diagnostics(ctx, examplePath, settleTime)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range diags {
			t.Logf("diagnostic: %s", d)
		}
		expectOnly(t, diags, lineOf(t, typo, "imagePullPolcy: Always"), "imagePullPolcy")
	})

	t.Run("typo in a job template field", func(t *testing.T) {
		doc := withModeline(typo, absModeline)
		diags := check(t, filepath.Join(dir, "typo.yaml"), doc)
		expectOnly(t, diags, lineOf(t, doc, "imagePullPolcy: Always"), "imagePullPolcy")
	})

	t.Run("string for integer concurrencyLimit", func(t *testing.T) {
		doc := withModeline(replaceOnce(t, example, "    concurrencyLimit: 4\n", "    concurrencyLimit: \"four\"\n"), absModeline)
		diags := check(t, filepath.Join(dir, "concurrency.yaml"), doc)
		expectOnly(t, diags, lineOf(t, doc, `concurrencyLimit: "four"`), "integer")
	})

	// Not checked here: `format: uri` (prefect.url). yaml-language-server
	// 2.0.0 parses the value with vscode-uri, which gives a string without
	// a scheme the scheme "file", so `url: not a uri` is not flagged.

	t.Run("word for integer queue priority", func(t *testing.T) {
		doc := withModeline(replaceOnce(t, example, "        priority: 2\n", "        priority: high\n"), absModeline)
		diags := check(t, filepath.Join(dir, "priority.yaml"), doc)
		expectOnly(t, diags, lineOf(t, doc, "priority: high"), "integer")
	})

	// How a file names its schema: a modeline comment, or a root $schema key
	// (the File schema allows it and prefect-apply ignores it). Both go
	// through the same resolution in yaml-language-server 2.0: a file:// URL
	// or an absolute path is used as it is, any other path is relative to
	// the document's directory (not to the workspace root).
	relSchema, err := filepath.Rel(dir, schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	forms := []struct{ name, ref string }{
		{"file URL", FileURI(schemaPath)},
		{"absolute path", schemaPath},
		{"path relative to the document", filepath.ToSlash(relSchema)},
	}
	for _, form := range forms {
		t.Run("modeline with "+form.name, func(t *testing.T) {
			doc := withModeline(typo, "# yaml-language-server: $schema="+form.ref)
			diags := check(t, filepath.Join(dir, "modeline-"+strings.ReplaceAll(form.name, " ", "-")+".yaml"), doc)
			expectOnly(t, diags, lineOf(t, doc, "imagePullPolcy: Always"), "imagePullPolcy")
		})
		t.Run("root $schema with "+form.name, func(t *testing.T) {
			doc := withModeline(typo, "# The schema is named by the $schema key below.")
			doc = replaceOnce(t, doc, "\nset: gbif\n", "\n$schema: "+form.ref+"\nset: gbif\n")
			diags := check(t, filepath.Join(dir, "dollar-schema-"+strings.ReplaceAll(form.name, " ", "-")+".yaml"), doc)
			expectOnly(t, diags, lineOf(t, doc, "imagePullPolcy: Always"), "imagePullPolcy")
		})
	}

	// Kubernetes manifests are checked against the schema of their kind,
	// chosen by if/then on kind inside allOf.
	serviceAccount := "      kind: ServiceAccount\n      metadata:\n        name: prefect-worker\n"

	t.Run("typo in a manifest's metadata", func(t *testing.T) {
		doc := withModeline(replaceOnce(t, example, serviceAccount, serviceAccount+"        nmespace: prefect\n"), absModeline)
		diags := check(t, filepath.Join(dir, "metadata.yaml"), doc)
		expectOnly(t, diags, lineOf(t, doc, "nmespace: prefect"), "nmespace")
	})

	t.Run("typo in a manifest's metadata, flow style", func(t *testing.T) {
		doc := withModeline(replaceOnce(t, example, serviceAccount,
			"      kind: ServiceAccount\n      metadata: {name: prefect-worker, nmespace: prefect}\n"), absModeline)
		diags := check(t, filepath.Join(dir, "metadata-flow.yaml"), doc)
		expectOnly(t, diags, lineOf(t, doc, "nmespace: prefect}"), "nmespace")
	})

	t.Run("wrong apiVersion for the kind", func(t *testing.T) {
		doc := withModeline(replaceOnce(t, example, "    - apiVersion: v1\n"+serviceAccount,
			"    - apiVersion: v2\n"+serviceAccount), absModeline)
		diags := check(t, filepath.Join(dir, "apiversion.yaml"), doc)
		expectOnly(t, diags, lineOf(t, doc, "apiVersion: v2"), `"v1"`)
	})

	t.Run("unsupported kind", func(t *testing.T) {
		doc := withModeline(replaceOnce(t, example, serviceAccount,
			"      kind: ServiceAcount\n      metadata:\n        name: prefect-worker\n"), absModeline)
		diags := check(t, filepath.Join(dir, "kind.yaml"), doc)
		expectOnly(t, diags, lineOf(t, doc, "kind: ServiceAcount"), "ServiceAccount")
	})

	t.Run("typo in a ClusterRole rule", func(t *testing.T) {
		doc := withModeline(replaceOnce(t, example,
			"        - apiGroups: [batch]\n          resources: [jobs]\n",
			"        - apiGroups: [batch]\n          resource: [jobs]\n"), absModeline)
		diags := check(t, filepath.Join(dir, "rule.yaml"), doc)
		expectOnly(t, diags, lineOf(t, doc, "resource: [jobs]"), "resource")
	})

	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		t.Errorf("shutting yaml-language-server down: %v\nstderr:\n%s", err, srv.Stderr())
	}
}

// replaceOnce replaces old, which must occur exactly once in s, with new.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("%q occurs %d times, want once (did examples/pools.yaml change? update the test)", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

// lineOf is the 0-based (LSP) line of the one line of doc containing text.
func lineOf(t *testing.T, doc, text string) int {
	t.Helper()
	if n := strings.Count(doc, text); n != 1 {
		t.Fatalf("%q occurs %d times in the document, want once", text, n)
	}
	return strings.Count(doc[:strings.Index(doc, text)], "\n")
}

// expectOnly checks that there are diagnostics, that all of them are on line
// and that one of them mentions word.
func expectOnly(t *testing.T, diags []Diagnostic, line int, word string) {
	t.Helper()
	if len(diags) == 0 {
		t.Fatalf("no diagnostics, want one on line %d mentioning %q", line+1, word)
	}
	mentioned := false
	for _, d := range diags {
		if d.Range.Start.Line != line {
			t.Errorf("diagnostic on line %d, want only line %d: %s", d.Range.Start.Line+1, line+1, d)
		}
		if strings.Contains(d.Message, word) {
			mentioned = true
		}
	}
	if !mentioned {
		js, _ := json.Marshal(diags)
		t.Errorf("no diagnostic mentions %q: %s", word, js)
	}
}

// pinnedVersion is the yaml-language-server version package.json pins.
func pinnedVersion(t *testing.T, dir string) string {
	t.Helper()
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err == nil {
		err = json.Unmarshal(data, &pkg)
	}
	if err != nil {
		t.Fatalf("package.json: %v", err)
	}
	return pkg.Dependencies["yaml-language-server"]
}
