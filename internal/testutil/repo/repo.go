// Package repo finds the repository's root for tests, from any package's
// directory: the tests of internal/ packages and the end-to-end tests under
// test/e2e alike. It imports nothing of the project.
package repo

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// module is the module path the root's go.mod declares. The tool modules
// under hack/tools have a go.mod of their own, with another path.
const module = "github.com/prefect-apply/prefect-apply"

var root = sync.OnceValues(find)

// Root returns the repository root: the nearest directory at or above the
// working directory whose go.mod declares this module. It fails tb when
// there is none.
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := root()
	if err != nil {
		tb.Fatalf("finding the repository root: %v", err)
	}
	return dir
}

// Path returns a path under the repository root.
func Path(tb testing.TB, elem ...string) string {
	tb.Helper()
	return filepath.Join(append([]string{Root(tb)}, elem...)...)
}

func find() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if declaresModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of module " + module + " at or above the working directory")
		}
		dir = parent
	}
}

// declaresModule says whether the go.mod at path declares this module.
func declaresModule(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(name), `"`) == module
		}
	}
	return false
}
