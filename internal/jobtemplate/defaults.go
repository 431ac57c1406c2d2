// Package jobtemplate owns Prefect base job templates: the workers' default
// templates (embedded, generated from the real packages by
// hack/prefect/gen-default-templates.sh) and the merge of a pool's
// jobTemplate overrides onto the Kubernetes worker's default.
package jobtemplate

import (
	"embed"
	"encoding/json"
	"fmt"
	"sync"
)

//go:embed defaults/*.json
var defaultsFS embed.FS

var versions struct {
	once sync.Once
	v    map[string]string
	err  error
}

// Versions returns the package versions the embedded defaults came from,
// e.g. {"prefect": "3.9.1", "prefect-kubernetes": "0.8.0"}.
func Versions() (map[string]string, error) {
	versions.once.Do(func() {
		raw, err := defaultsFS.ReadFile("defaults/versions.json")
		if err != nil {
			versions.err = err
			return
		}
		versions.err = json.Unmarshal(raw, &versions.v)
	})
	return versions.v, versions.err
}

// parsedDefault is an embedded default template, decoded once.
type parsedDefault struct {
	once sync.Once
	t    map[string]any
	ok   bool
	err  error
}

// parsed holds the decoded defaults by worker type: decoding the
// Kubernetes template costs more than copying it, and a file builds it
// once per pool.
var parsed sync.Map // worker type → *parsedDefault

// Default returns a fresh copy of the default base job template of a worker
// type, and false when none is embedded for it.
func Default(workerType string) (map[string]any, bool, error) {
	v, _ := parsed.LoadOrStore(workerType, &parsedDefault{})
	d := v.(*parsedDefault)
	d.once.Do(func() { d.t, d.ok, d.err = decodeDefault(workerType) })
	if !d.ok || d.err != nil {
		return nil, d.ok, d.err
	}
	return copyJSON(d.t).(map[string]any), true, nil
}

func decodeDefault(workerType string) (map[string]any, bool, error) {
	raw, err := defaultsFS.ReadFile("defaults/" + workerType + ".json")
	if err != nil {
		return nil, false, nil
	}
	var t map[string]any
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, true, fmt.Errorf("embedded default template for %s: %w", workerType, err)
	}
	return t, true, nil
}

// copyJSON deep-copies a value encoding/json decoded (maps, slices and
// immutable scalars).
func copyJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = copyJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = copyJSON(e)
		}
		return out
	}
	return v
}
