package prefect

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// profile is one [profiles.NAME] table of a Prefect profiles file.
type profile struct {
	name     string
	path     string
	settings map[string]string
}

// String says where a setting came from: `profile "local" in /path`.
func (p *profile) String() string { return fmt.Sprintf("profile %q in %s", p.name, p.path) }

// profilesPath finds the profiles file as Prefect does: PREFECT_PROFILES_PATH
// (where "$PREFECT_HOME" is substituted), else $PREFECT_HOME/profiles.toml,
// else ~/.prefect/profiles.toml. It returns "" when no home is known.
func profilesPath(getenv func(string) string, homeDir string) string {
	home := expandHome(getenv("PREFECT_HOME"), homeDir)
	if home == "" && homeDir != "" {
		home = filepath.Join(homeDir, ".prefect")
	}
	if p := getenv("PREFECT_PROFILES_PATH"); p != "" {
		if home != "" {
			p = strings.ReplaceAll(p, "$PREFECT_HOME", home)
		}
		return expandHome(p, homeDir)
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, "profiles.toml")
}

// expandHome replaces a leading "~" with the user's home directory.
func expandHome(p, homeDir string) string {
	if homeDir != "" && (p == "~" || strings.HasPrefix(p, "~/")) {
		return filepath.Join(homeDir, p[1:])
	}
	return p
}

// loadProfile reads the active profile: PREFECT_PROFILE, else the file's
// "active" key. A missing file, or a file naming no active profile, yields
// nil: Prefect then runs without profile settings too. A profile that is
// named but absent from an existing file is an error, as it is in Prefect.
func loadProfile(path, name string) (*profile, error) {
	if path == "" {
		return nil, nil
	}
	var doc struct {
		Active   string                    `toml:"active"`
		Profiles map[string]map[string]any `toml:"profiles"`
	}
	_, err := toml.DecodeFile(path, &doc)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Prefect profiles %s: %w", path, err)
	}
	how := "PREFECT_PROFILE"
	if name == "" {
		name, how = doc.Active, `"active" in the file`
	}
	if name == "" {
		return nil, nil
	}
	table, ok := doc.Profiles[name]
	if !ok {
		return nil, fmt.Errorf("Prefect profile %q (from %s) is not in %s", name, how, path)
	}
	p := &profile{name: name, path: path, settings: make(map[string]string, len(table))}
	for k, v := range table {
		p.settings[k] = settingString(v)
	}
	return p, nil
}

// settingString renders a TOML value as the string Prefect would parse:
// scalars as text, tables and arrays as JSON (custom headers may be written
// as an inline table).
func settingString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}

// fileExists reports whether path names an existing file; used in messages.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
