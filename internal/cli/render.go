package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/prefect-apply/prefect-apply/internal/jobtemplate"
	"github.com/prefect-apply/prefect-apply/internal/plan"
)

// RenderOptions are the flags of `render`.
type RenderOptions struct {
	IO   *IOStreams
	Env  *Env
	File string
	Pool string
}

func newRenderCmd(ios *IOStreams, env *Env) *cobra.Command {
	opts := &RenderOptions{IO: ios, Env: env}
	cmd := &cobra.Command{
		Use:   "render [-f FILE] POOL",
		Short: "Print the base job template that sync would send for a pool",
		Long: `Print, as JSON, the exact base_job_template sync sends for a pool: its
baseJobTemplate as written, or the worker type's default template with the
pool's jobTemplate overrides merged in. Offline: it talks to no server.

The output can be passed to the Prefect CLI as it is:

  prefect-apply render gpu-tasks > gpu.json
  prefect work-pool update gpu-tasks --base-job-template gpu.json

Secret values are never printed, here either: a known secret (the Prefect
credential, PREFECT_API_AUTH_STRING or PREFECT_API_KEY, and the values the
file's Secrets read with fromEnv or fromFile) that occurs in the template,
pasted into the file as text, is replaced by "(sensitive value)". The output
is then not what sync would send, so render says where on stderr and exits
1: only an output with exit status 0 is the exact template. Take the
secret out of the file (a job reads it through valueFrom.secretKeyRef).`,
		Example: `  prefect-apply render -f examples/pools.yaml gbif-automations`,
		Args:    onePool,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Pool = args[0]
			return renderRun(opts)
		},
	}
	fileFlag(cmd.Flags(), &opts.File, "render", "pools.yaml", "pools.yaml `FILE`")
	cmd.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return poolNames(opts.File, opts.Env.lookup()), cobra.ShellCompDirectiveNoFileComp
	}
	return cmd
}

func renderRun(opts *RenderOptions) error {
	ios := opts.IO
	f, probs := loadFile(ios, opts.File, opts.Env.lookup())
	if len(probs) > 0 {
		for _, p := range probs {
			fmt.Fprintln(ios.ErrOut, ios.mask(p.Error()))
		}
		return fmt.Errorf("%s: %d problem%s", opts.File, len(probs), plural(len(probs)))
	}
	var names []string
	for i := range f.Pools {
		p := &f.Pools[i]
		if p.Name != opts.Pool {
			names = append(names, p.Name)
			continue
		}
		t, err := jobtemplate.Build(p, f.JobNamespace(p))
		if err != nil {
			return err
		}
		// The template as JSON values, so that masking sees every string
		// (and the types of config, such as []corev1.EnvVar, too).
		var generic any
		raw, err := json.Marshal(t)
		if err == nil {
			err = json.Unmarshal(raw, &generic)
		}
		if err != nil {
			return err
		}
		masked, changed := ios.secrets.Value(generic, plan.Masked)
		enc := json.NewEncoder(ios.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if !changed {
			// The template as built, number for number.
			return enc.Encode(t)
		}
		if err := enc.Encode(masked); err != nil {
			return err
		}
		return fmt.Errorf("pool %q: the template holds a secret value (the Prefect credential, or a value a Secret of the file reads), shown above as %q at %s; "+
			"the output is not what sync would send, and sync would store the secret in plain text in the pool: take it out of %s, and give a job a secret through valueFrom.secretKeyRef",
			opts.Pool, plan.Masked, ios.mask(strings.Join(changedPaths(generic, masked, ""), ", ")), opts.File)
	}
	if len(names) == 0 {
		return fmt.Errorf("%s has no pool %q: it declares no pools", opts.File, opts.Pool)
	}
	sort.Strings(names)
	return fmt.Errorf("%s has no pool %q; its pools: %s", opts.File, opts.Pool, strings.Join(names, ", "))
}
