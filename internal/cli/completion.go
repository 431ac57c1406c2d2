package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// newCompletionCmd replaces cobra's default completion command with the
// same scripts and a help page with examples for each shell.
func newCompletionCmd(ios *IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print the script that makes your shell complete prefect-apply's commands,
flags and their values. Load it once per session, or install it where your
shell reads completions at start-up (see each shell's help).`,
		Example: `  # bash, this session
  source <(prefect-apply completion bash)

  # zsh, every session (compinit must be enabled)
  prefect-apply completion zsh > "${fpath[1]}/_prefect-apply"

  # fish
  prefect-apply completion fish > ~/.config/fish/completions/prefect-apply.fish

  # PowerShell
  prefect-apply completion powershell | Out-String | Invoke-Expression`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("name a shell: bash, zsh, fish or powershell")
		},
	}
	shells := []struct {
		name, install string
		gen           func(root *cobra.Command) error
	}{
		{"bash", `  source <(prefect-apply completion bash)
  prefect-apply completion bash > /etc/bash_completion.d/prefect-apply`,
			func(root *cobra.Command) error { return root.GenBashCompletionV2(ios.Out, true) }},
		{"zsh", `  prefect-apply completion zsh > "${fpath[1]}/_prefect-apply"`,
			func(root *cobra.Command) error { return root.GenZshCompletion(ios.Out) }},
		{"fish", `  prefect-apply completion fish | source
  prefect-apply completion fish > ~/.config/fish/completions/prefect-apply.fish`,
			func(root *cobra.Command) error { return root.GenFishCompletion(ios.Out, true) }},
		{"powershell", `  prefect-apply completion powershell | Out-String | Invoke-Expression`,
			func(root *cobra.Command) error { return root.GenPowerShellCompletionWithDesc(ios.Out) }},
	}
	for _, s := range shells {
		gen := s.gen
		cmd.AddCommand(&cobra.Command{
			Use:                   s.name,
			Short:                 fmt.Sprintf("Print the completion script for %s", s.name),
			Long:                  fmt.Sprintf("Print the completion script for %s to standard output.", s.name),
			Example:               s.install,
			Args:                  cobra.NoArgs,
			DisableFlagsInUseLine: true,
			RunE: func(cmd *cobra.Command, args []string) error {
				return gen(cmd.Root())
			},
		})
	}
	return cmd
}

// finishHelp gives cobra's own help command an example, as every other
// command has.
func finishHelp(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			c.Example = "  prefect-apply help sync"
		}
	}
}
