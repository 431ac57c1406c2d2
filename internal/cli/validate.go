package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/reconcile"
	"github.com/prefect-apply/prefect-apply/internal/render"
)

// ValidateOptions are the flags of `validate`.
type ValidateOptions struct {
	IO    *IOStreams
	Files []string
	// Output is text, json or github.
	Output string
	// LookupEnv resolves ${VAR}; the process environment when nil.
	LookupEnv func(string) (string, bool)
}

func newValidateCmd(ios *IOStreams, env *Env, runF func(*ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{IO: ios, LookupEnv: env.lookup()}
	cmd := &cobra.Command{
		Use:   "validate [-f FILE]...",
		Short: "Check pools.yaml offline: syntax, schema, references and known mistakes",
		Long: `Check one or more pools.yaml files without talking to any server.

validate parses the YAML, checks it against the JSON Schema (the same one
editors use), then checks what a schema cannot: unique names and priorities,
that every service account, namespace, Secret key and PVC a job template uses
is declared in the file (or listed under kubernetes.external), and the
mistakes that make jobs fail at run time, such as a Prefect 2 {"job": ...}
template or a job container that runs "prefect worker start", and those that
put a secret in plain text: a ${VAR} of PREFECT_API_AUTH_STRING,
PREFECT_API_KEY or a variable a Secret reads with fromEnv, and a plain value
for PREFECT_API_AUTH_STRING or PREFECT_API_KEY in a job's env (a job reads
those through valueFrom.secretKeyRef).

Problems are reported as FILE:LINE:COL: PATH: MESSAGE, sorted by position:
every problem the schema finds at once, then, once the file matches the
schema, every problem of the checks after it. Exit status: 0 when every
file is valid, 1 otherwise.

--output json prints one versioned document on stdout instead: each file,
whether it is valid, and its problems and warnings with file, line, column,
path, message, hint and severity. --output github prints GitHub Actions
workflow commands (::error file=F,line=L,col=C::..., ::warning ...), one
per problem and warning, which GitHub shows on the pull request's lines.`,
		Example: `  prefect-apply validate
  prefect-apply validate -f pools.yaml -f staging/pools.yaml
  prefect-apply validate -f pools.yaml --output github   # in a GitHub Actions step`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(opts.Output, validateFormats...); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			if opts.Output != "text" {
				return validateReport(opts)
			}
			return validateRun(opts)
		},
	}
	cmd.Flags().StringArrayVarP(&opts.Files, "file", "f", []string{"pools.yaml"}, "pools.yaml `FILE` to check (repeatable)")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: "+formatList(validateFormats))
	completeValues(cmd, "output", validateFormats...)
	return cmd
}

// validateFormats are validate's --output values.
var validateFormats = []string{"text", "json", "github"}

func validateRun(opts *ValidateOptions) error {
	failed := false
	for _, name := range opts.Files {
		doc, f, probs := loadDocument(opts.IO, name, opts.LookupEnv)
		if len(probs) > 0 {
			failed = true
			for _, p := range probs {
				fmt.Fprintln(opts.IO.ErrOut, opts.IO.mask(p.Error()))
			}
			fmt.Fprintf(opts.IO.ErrOut, "%s: %d problem%s\n", name, len(probs), plural(len(probs)))
			continue
		}
		for _, w := range doc.Warnings(f) {
			fmt.Fprintln(opts.IO.ErrOut, "warning: "+opts.IO.mask(w.Error()))
		}
		fmt.Fprintf(opts.IO.Out, "%s: valid (%s)\n", name, summarize(f))
	}
	if failed {
		return silent(ExitFailure)
	}
	return nil
}

// validateReport is validate with --output json or github: every file's
// problems and warnings, masked, as one document or as workflow commands
// on stdout.
func validateReport(opts *ValidateOptions) error {
	var reports []render.FileReport
	failed := false
	for _, name := range opts.Files {
		r := render.FileReport{File: name}
		doc, f, probs := loadDocument(opts.IO, name, opts.LookupEnv)
		if len(probs) > 0 {
			r.Problems, failed = maskProblems(opts.IO, probs), true
		} else {
			r.Warnings = maskProblems(opts.IO, doc.Warnings(f))
		}
		reports = append(reports, r)
	}
	write := render.ValidateJSON
	if opts.Output == "github" {
		write = render.ValidateGitHub
	}
	if err := write(opts.IO.Out, reports); err != nil {
		return err
	}
	if failed {
		return silent(ExitFailure)
	}
	return nil
}

// maskProblems returns problems with every secret value of their text
// masked.
func maskProblems(ios *IOStreams, probs config.Problems) config.Problems {
	out := make(config.Problems, len(probs))
	for i, p := range probs {
		p.Message, p.Hint = ios.mask(p.Message), ios.mask(p.Hint)
		path := make(config.Path, len(p.Path))
		for j, tok := range p.Path {
			path[j] = ios.mask(tok)
		}
		p.Path, out[i] = path, p
	}
	return out
}

// loadFile parses and validates one file, and records the values its
// Secrets read among the secrets ios masks.
func loadFile(ios *IOStreams, name string, lookup func(string) (string, bool)) (*config.File, config.Problems) {
	_, f, probs := loadDocument(ios, name, lookup)
	return f, probs
}

// loadDocument is loadFile with the document, whose positions place later
// problems.
func loadDocument(ios *IOStreams, name string, lookup func(string) (string, bool)) (*config.Document, *config.File, config.Problems) {
	return reconcile.Load(name, lookup, &ios.secrets)
}

func summarize(f *config.File) string {
	queues := 0
	for _, p := range f.Pools {
		queues += len(p.Queues)
	}
	objects, secrets := 0, 0
	if f.Kubernetes != nil {
		objects, secrets = len(f.Kubernetes.Resources), len(f.Kubernetes.Secrets)
	}
	parts := []string{
		count(len(f.Pools), "pool"), count(queues, "queue"),
		count(objects, "Kubernetes object"), count(secrets, "secret"),
		"set " + f.Set,
	}
	return strings.Join(parts, ", ")
}

func count(n int, noun string) string { return fmt.Sprintf("%d %s%s", n, noun, plural(n)) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
