package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/prefect-apply/prefect-apply/internal/config"
)

// oneFile is a -f flag that takes one file: given twice, it says so
// instead of keeping the last one, which would plan (and prune) a file
// other than the one the user thought of.
type oneFile struct {
	value *string
	cmd   string
	set   bool
}

func (f *oneFile) String() string { return *f.value }
func (f *oneFile) Type() string   { return "string" }

func (f *oneFile) Set(v string) error {
	// The same file twice is one file (and shell completion parses the
	// flags of a command line twice).
	if f.set && v != *f.value {
		return fmt.Errorf("-f is given more than once (%q, then %q): %s works on one file; run it once per file", *f.value, v, f.cmd)
	}
	*f.value, f.set = v, true
	return nil
}

// fileFlag registers -f/--file, with def as its default.
func fileFlag(fs *pflag.FlagSet, p *string, cmd, def, usage string) {
	*p = def
	fs.VarP(&oneFile{value: p, cmd: cmd}, "file", "f", usage)
}

// onePool is render's argument check.
func onePool(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("render prints one pool's template: give its name, e.g. prefect-apply render -f pools.yaml gpu-tasks (got %d arguments)", len(args))
	}
	return nil
}

// checkOutput refuses an --output value that is not one of formats.
func checkOutput(output string, formats ...string) error {
	if slices.Contains(formats, output) {
		return nil
	}
	return fmt.Errorf("--output %q: use %s", output, formatList(formats))
}

// formatList is "text, json or markdown".
func formatList(formats []string) string {
	if len(formats) < 2 {
		return strings.Join(formats, "")
	}
	return strings.Join(formats[:len(formats)-1], ", ") + " or " + formats[len(formats)-1]
}

// completeValues makes the shell complete a flag with its values.
func completeValues(cmd *cobra.Command, flag string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// poolNames are the pools of a file, for completion: none when it does not
// load (completion prints no errors).
func poolNames(file string, lookup func(string) (string, bool)) []string {
	doc, probs := config.LoadFile(file, config.Options{LookupEnv: lookup})
	if len(probs) > 0 || doc == nil {
		return nil
	}
	f, probs := doc.Validate()
	if len(probs) > 0 || f == nil {
		return nil
	}
	names := make([]string, 0, len(f.Pools))
	for _, p := range f.Pools {
		names = append(names, p.Name)
	}
	return names
}
