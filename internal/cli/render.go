package cli

import "github.com/spf13/cobra"

// RenderOptions are the flags of `render`.
type RenderOptions struct {
	IO   *IOStreams
	File string
	Pool string
}

func newRenderCmd(ios *IOStreams, runF func(*RenderOptions) error) *cobra.Command {
	opts := &RenderOptions{IO: ios}
	cmd := &cobra.Command{
		Use:    "render [-f FILE] POOL",
		Short:  "Print the base job template that would be sent for a pool",
		Args:   cobra.ExactArgs(1),
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Pool = args[0]
			if runF != nil {
				return runF(opts)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.File, "file", "f", "pools.yaml", "pools.yaml `FILE`")
	return cmd
}
