package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/prefect-apply/prefect-apply/internal/jobtemplate"
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
  prefect work-pool update gpu-tasks --base-job-template gpu.json`,
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
	f, probs := loadFile(opts.File, opts.Env.lookup())
	if len(probs) > 0 {
		for _, p := range probs {
			fmt.Fprintln(opts.IO.ErrOut, p.Error())
		}
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s: %d problem%s", opts.File, len(probs), plural(len(probs)))}
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
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(t)
	}
	if len(names) == 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s has no pool %q: it declares no pools", opts.File, opts.Pool)}
	}
	sort.Strings(names)
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s has no pool %q; its pools: %s", opts.File, opts.Pool, strings.Join(names, ", "))}
}
