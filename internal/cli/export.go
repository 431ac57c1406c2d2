package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/prefect-apply/prefect-apply/internal/reconcile"
)

// ExportOptions are the flags of `export`.
type ExportOptions struct {
	IO          *IOStreams
	Env         *Env
	Output      string
	Pools       []string
	Kubernetes  bool
	Set         string
	PrefectURL  string
	Kubeconfig  string
	KubeContext string
}

func newExportCmd(ios *IOStreams, env *Env) *cobra.Command {
	opts := &ExportOptions{IO: ios, Env: env}
	cmd := &cobra.Command{
		Use:   "export [-o FILE] [--pool NAME]... [--kubernetes] [--set NAME]",
		Short: "Write a pools.yaml from the live pools and queues, to adopt an existing setup",
		Long: `Read the live Prefect work pools and their queues (all of them, or those
named with --pool) and write a pools.yaml that describes them: validate
accepts it, and diff finds it in sync with the servers it was read from.
Then sync -f FILE --adopt takes the objects over where they are: it records
them as the set's and labels the Kubernetes objects, recreating nothing.

A Kubernetes pool's base job template that is the worker's default plus
settings (image, namespace, service account, env, resources, volumes, ...)
is written as jobTemplate overrides, after checking that merging them again
gives back exactly the live template; any other template is written as it
is, as baseJobTemplate. Server-set fields (ids, timestamps, status) are left
out. Output is sorted, so two exports of the same state are the same file.

The Kubernetes objects the templates use (namespace, service account,
Secrets, ConfigMaps, PVCs) are listed under kubernetes.external: diff checks
that they exist. With --kubernetes, the service accounts and the RBAC that
binds them (RoleBindings, ClusterRoleBindings and the roles they grant) are
read from the cluster and written under kubernetes.resources, and Secrets
are listed with their keys. Secret values are never read out: each Secret
stays external, with a comment showing how to move it to kubernetes.secrets
with its values taken from environment variables at sync time.

No secret value of a live template is written either: the values of
PREFECT_API_KEY, PREFECT_API_AUTH_STRING and of env names that look secret
(DB_PASSWORD, GITHUB_TOKEN, SSH_KEY, ...: the README lists the patterns).
In a Kubernetes template they move to a
Secret under kubernetes.secrets, read from an environment variable named
after the pool and the key (LEAKY_DB_PASSWORD), and the job reads them
through valueFrom.secretKeyRef; elsewhere the file holds ${VAR} in their
place. A warning names each variable to set before the first sync; until
that sync, the live template still holds the values in plain text.

Exit status: 0 when the file was written and checks out (the secret values
moved out are listed, not counted against it), 1 otherwise.`,
		Example: `  # Everything on the server, with the RBAC the jobs use, as set "platform"
  prefect-apply export --kubernetes --set platform -o pools.yaml
  prefect-apply diff -f pools.yaml              # exit 0: in sync
  prefect-apply sync -f pools.yaml --adopt --yes

  # Two pools, to standard output
  prefect-apply export --pool gpu-tasks --pool cpu-intensive`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return exportRun(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.Output, "output", "o", "", "write to `FILE` instead of standard output")
	fs.StringArrayVar(&opts.Pools, "pool", nil, "export only the work pool `NAME` (repeatable; default: every pool)")
	fs.BoolVar(&opts.Kubernetes, "kubernetes", false, "read the service accounts and RBAC the job templates use from the cluster, and the keys of their Secrets")
	fs.StringVar(&opts.Set, "set", "", "ownership set `NAME` to write into the file (default: none, so the file's base name)")
	fs.StringVar(&opts.PrefectURL, "prefect-url", "", "Prefect API `URL` (default: PREFECT_API_URL, then the active Prefect profile)")
	fs.StringVar(&opts.Kubeconfig, "kubeconfig", "", "kubeconfig `FILE` (default: KUBECONFIG, then ~/.kube/config, then the in-cluster config)")
	fs.StringVar(&opts.KubeContext, "context", "", "kubeconfig `CONTEXT` (default: the current context)")
	return cmd
}

func exportRun(ctx context.Context, opts *ExportOptions) error {
	in := opts.Env.inputs(opts.IO)
	in.PrefectURL, in.Kubeconfig, in.KubeContext, in.Set = opts.PrefectURL, opts.Kubeconfig, opts.KubeContext, opts.Set
	name := opts.Output
	if name == "" {
		name = "pools.yaml"
	}
	out, err := reconcile.Export(ctx, in, reconcile.ExportOptions{Name: name, Pools: opts.Pools, Kubernetes: opts.Kubernetes, Written: opts.Output != ""})
	if err != nil {
		return err
	}
	if opts.Output == "" {
		if _, err := opts.IO.Out.Write(out.YAML); err != nil {
			return err
		}
	} else if err := os.WriteFile(opts.Output, out.YAML, 0o644); err != nil {
		return fmt.Errorf("writing the export: %w", err)
	}
	for _, w := range out.Warnings {
		fmt.Fprintln(opts.IO.ErrOut, "Warning:", w)
	}
	if len(out.Changes) > 0 {
		fmt.Fprintln(opts.IO.ErrOut, "The file differs from the live state where export chose so, to keep secret values out of it:")
		for _, c := range out.Changes {
			fmt.Fprintln(opts.IO.ErrOut, "  "+c)
		}
	}
	if len(out.Problems) > 0 {
		for _, p := range out.Problems {
			fmt.Fprintln(opts.IO.ErrOut, p)
		}
		return fmt.Errorf("the exported file does not reproduce the live state (%d problem%s above); please report it", len(out.Problems), plural(len(out.Problems)))
	}
	if len(out.Refused) > 0 {
		for _, p := range out.Refused {
			fmt.Fprintln(opts.IO.ErrOut, p)
		}
		return fmt.Errorf("the exported file does not validate until the Prefect credentials above are taken out of it (%d problem%s; see the warnings)", len(out.Refused), plural(len(out.Refused)))
	}
	if opts.Output != "" {
		fmt.Fprintf(opts.IO.ErrOut, "Wrote %s: %s.\n", opts.Output, summarize(out.File))
	}
	return nil
}
