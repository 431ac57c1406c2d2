package editor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

const (
	installTimeout = 10 * time.Minute
	// yaml-language-server 2.0.0 declares node >=22.13.0 in its engines;
	// it also runs on node 20.
	nodeRequirement = "22.13 or newer; 20 also works"
)

var install struct {
	once sync.Once
	err  error
}

// installServer runs `npm ci` in dir (once per test process) unless
// node_modules already holds exactly what package-lock.json pins. A missing
// node or npm fails the test: the editor check must not silently vanish.
func installServer(tb testing.TB, dir string) {
	tb.Helper()
	install.once.Do(func() { install.err = installOnce(tb, dir) })
	if install.err != nil {
		tb.Fatal(install.err)
	}
}

func installOnce(tb testing.TB, dir string) error {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: the editor validation test runs yaml-language-server "+
				"and needs Node.js (%s) and npm on PATH: %w", tool, nodeRequirement, err)
		}
	}
	ok, why := installed(dir)
	if ok {
		return nil
	}
	tb.Logf("installing yaml-language-server with npm ci (%s)", why)
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
	}
	if ok, why := installed(dir); !ok {
		return fmt.Errorf("npm ci in %s succeeded but node_modules does not match package-lock.json: %s\n%s", dir, why, out)
	}
	tb.Logf("npm ci took %s", time.Since(start).Round(100*time.Millisecond))
	return nil
}

type lockfile struct {
	Packages map[string]struct {
		Version   string `json:"version"`
		Integrity string `json:"integrity"`
	} `json:"packages"`
}

// installed reports whether npm's record of what it installed,
// node_modules/.package-lock.json, lists the same packages at the same
// versions and integrity hashes as package-lock.json; if not, why.
func installed(dir string) (bool, string) {
	var want, have lockfile
	data, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return false, err.Error()
	}
	if err := json.Unmarshal(data, &want); err != nil {
		return false, fmt.Sprintf("package-lock.json: %v", err)
	}
	delete(want.Packages, "") // the root project, absent from the hidden lockfile
	data, err = os.ReadFile(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err != nil {
		return false, "node_modules/.package-lock.json is missing"
	}
	if err := json.Unmarshal(data, &have); err != nil {
		return false, fmt.Sprintf("node_modules/.package-lock.json: %v", err)
	}
	if !maps.Equal(want.Packages, have.Packages) {
		return false, "node_modules/.package-lock.json differs from package-lock.json"
	}
	// A package deleted by hand leaves the hidden lockfile as it was.
	for _, p := range slices.Sorted(maps.Keys(want.Packages)) {
		if _, err := os.Stat(filepath.Join(dir, p, "package.json")); err != nil {
			return false, fmt.Sprintf("%s is missing", p)
		}
	}
	return true, ""
}

// nodeVersion is the output of `node --version`, for messages.
func nodeVersion() string {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return string(bytes.TrimSpace(out))
}
