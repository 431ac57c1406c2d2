package cli

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"

	"github.com/spf13/cobra"

	"github.com/prefect-apply/prefect-apply/internal/jobtemplate"
)

// VersionInfo is what `version` prints.
type VersionInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
	Module    string `json:"module,omitempty"`
	// Revision, Time and Modified come from the VCS stamp Go embeds at
	// build time (absent in `go run` and test binaries).
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	// Templates are the package versions the embedded default job
	// templates were generated from.
	Templates map[string]string `json:"templates"`
}

// readVersion gathers the version of this binary: -ldflags' Version,
// else the module version Go recorded (go install ...@v1.2.3).
func readVersion(read func() (*debug.BuildInfo, bool)) (VersionInfo, error) {
	v := VersionInfo{Version: Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := read(); ok {
		v.GoVersion = bi.GoVersion
		v.Module = bi.Main.Path
		if v.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	t, err := jobtemplate.Versions()
	if err != nil {
		return v, fmt.Errorf("reading the embedded template versions: %w", err)
	}
	v.Templates = t
	return v, nil
}

func newVersionCmd(ios *IOStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, build and embedded template versions",
		Long: `Print prefect-apply's version, the Go version and platform it was built
with, its module and source revision (when the build recorded them), and
the versions of prefect and prefect-kubernetes whose default base job
templates are embedded: jobTemplate overrides are merged onto those.`,
		Example: `  prefect-apply version
  prefect-apply version --output json | jq -r '.templates["prefect-kubernetes"]'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := readVersion(debug.ReadBuildInfo)
			if err != nil {
				return err
			}
			switch output {
			case "json":
				enc := json.NewEncoder(ios.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			case "text":
				writeVersion(ios, v)
				return nil
			}
			return fmt.Errorf("--output %q: use text or json", output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	completeValues(cmd, "output", "text", "json")
	return cmd
}

func writeVersion(ios *IOStreams, v VersionInfo) {
	w := ios.Out
	fmt.Fprintf(w, "prefect-apply %s\n", v.Version)
	fmt.Fprintf(w, "  go:        %s %s\n", v.GoVersion, v.Platform)
	if v.Module != "" {
		fmt.Fprintf(w, "  module:    %s\n", v.Module)
	}
	if v.Revision != "" {
		rev := v.Revision
		if v.Modified {
			rev += " (modified)"
		}
		if v.Time != "" {
			rev += ", " + v.Time
		}
		fmt.Fprintf(w, "  revision:  %s\n", rev)
	}
	names := make([]string, 0, len(v.Templates))
	for n := range v.Templates {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprint(w, "  templates:")
	for i, n := range names {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(w, "%s %s %s", sep, n, v.Templates[n])
	}
	fmt.Fprintln(w, " (embedded default job templates)")
}
