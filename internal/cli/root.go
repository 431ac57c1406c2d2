package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3".
var Version = "dev"

// NewRootCmd builds the command tree.
func NewRootCmd(ios *IOStreams, env *Env) *cobra.Command {
	env = env.withClients()
	root := &cobra.Command{
		Use:   "prefect-apply",
		Short: "Declarative Prefect work pools, queues and their Kubernetes objects",
		Long: `prefect-apply makes a team's Prefect infrastructure declarative.

One pools.yaml describes Prefect work pools, their work queues, their
Kubernetes base job templates and the Kubernetes objects those jobs need
(ServiceAccount, ClusterRole/Role, bindings, Secrets). prefect-apply validates
the file, reads the live state of the Prefect server and the cluster, shows
the difference as a plan, and applies it.`,
		Example: `  # Check a file offline, as an editor or a pre-commit hook would
  prefect-apply validate -f pools.yaml

  # Show what would change (exit 0: in sync, 2: changes, 1: error)
  prefect-apply diff -f pools.yaml

  # Apply the changes without a prompt, as a deploy pipeline does
  prefect-apply sync -f pools.yaml --yes`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	root.SetIn(ios.In)
	root.AddCommand(
		newValidateCmd(ios, env, nil),
		newSchemaCmd(ios),
		newRenderCmd(ios, env),
		newDiffCmd(ios, env),
		newSyncCmd(ios, env),
		newExportCmd(ios, env),
		newStatusCmd(ios, env),
		newCompletionCmd(ios),
		newVersionCmd(ios),
	)
	finishHelp(root)
	return root
}

// Run executes the command line and returns the exit code, printing the
// error (if any) once, here.
func Run(ctx context.Context, ios *IOStreams, env *Env, args []string) int {
	if env == nil {
		env = SystemEnv()
	}
	learnCredentials(ios, env)
	root := NewRootCmd(ios, env)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		if ee, ok := err.(*ExitError); !ok || ee.Err != nil {
			fmt.Fprintln(ios.ErrOut, "Error:", ios.mask(err.Error()))
		}
	}
	return ExitCode(err)
}
