package cli

import (
	"github.com/spf13/cobra"

	"github.com/prefect-apply/prefect-apply/schema"
)

func newSchemaCmd(ios *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of pools.yaml",
		Long: `Print the JSON Schema of pools.yaml, the one validate uses.

Editors with yaml-language-server (VS Code's YAML extension, Neovim) validate
and complete pools.yaml from it. Point them at it with a modeline on the
file's first line:

  # yaml-language-server: $schema=` + schema.URL + `

or with a root key:

  $schema: ./pools.schema.json`,
		Example: `  prefect-apply schema > pools.schema.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := ios.Out.Write(schema.JSON)
			return err
		},
	}
}
