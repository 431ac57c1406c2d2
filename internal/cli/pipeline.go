package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/spf13/pflag"

	"github.com/prefect-apply/prefect-apply/internal/kube"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/reconcile"
)

// PrefectClient and KubeClient are what a run needs of the servers.
type (
	PrefectClient = reconcile.PrefectClient
	KubeClient    = reconcile.KubeClient
)

// Env is the outside world a command reads: environment, home folder and
// the servers' clients.
type Env struct {
	LookupEnv func(string) (string, bool)
	HomeDir   string
	// NewPrefect builds the Prefect client; tests may replace it. Nil:
	// the real client (NewRootCmd fills it in).
	NewPrefect func(conn prefect.Connection) (PrefectClient, error)
	// NewKube builds the Kubernetes client; tests may replace it.
	NewKube func(opts kube.Options) (KubeClient, error)
}

func (e *Env) getenv(k string) string {
	v, _ := e.lookup()(k)
	return v
}

func (e *Env) lookup() func(string) (string, bool) {
	if e == nil || e.LookupEnv == nil {
		return os.LookupEnv
	}
	return e.LookupEnv
}

// withClients is env with the real client for each one it leaves nil:
// the one place they are defaulted.
func (e *Env) withClients() *Env {
	out := Env{}
	if e != nil {
		out = *e
	}
	c := reconcile.Connect{Prefect: out.NewPrefect, Kube: out.NewKube}.WithDefaults("prefect-apply/" + Version)
	out.NewPrefect, out.NewKube = c.Prefect, c.Kube
	return &out
}

// SystemEnv is the process's environment.
func SystemEnv() *Env {
	home, _ := os.UserHomeDir()
	return &Env{LookupEnv: os.LookupEnv, HomeDir: home}
}

// inputs is what reconcile needs of the command's environment and
// streams; the flags are the command's.
func (e *Env) inputs(ios *IOStreams) reconcile.Inputs {
	return reconcile.Inputs{LookupEnv: e.lookup(), HomeDir: e.HomeDir,
		Connect: reconcile.Connect{Prefect: e.NewPrefect, Kube: e.NewKube},
		Secrets: &ios.secrets, Notify: notifier(ios)}
}

// notifier prints a run's notes and warnings to stderr, one a line.
func notifier(ios *IOStreams) func(string) {
	return func(line string) { fmt.Fprintln(ios.ErrOut, line) }
}

// planFlags are the flags diff and sync share.
type planFlags struct {
	File           string
	Set            string
	PrefectURL     string
	Output         string
	Prune          bool
	AllowEmpty     bool
	Adopt          bool
	SkipKubernetes bool
	Kubeconfig     string
	KubeContext    string
	ForceConflicts bool
	AllowOrphaning bool
	Strict         bool
	Stats          bool
	// ReplaceTimeout is sync's --replace-timeout, KubeTimeout
	// --kube-request-timeout.
	ReplaceTimeout time.Duration
	KubeTimeout    time.Duration
	// formats are the command's --output values.
	formats []string
}

// planFormats are the --output values of diff and sync: diff also writes
// GitHub workflow commands.
func planFormats(cmd string) []string {
	if cmd == "diff" {
		return []string{"text", "json", "markdown", "github"}
	}
	return []string{"text", "json", "markdown"}
}

func (f *planFlags) register(fs *pflag.FlagSet, cmd string) {
	fileFlag(fs, &f.File, cmd, "pools.yaml", "pools.yaml `FILE` to apply")
	fs.StringVar(&f.Set, "set", "", "ownership set `NAME` (default: the file's `set`, else its base name, e.g. team-pools for Team_Pools.yaml)")
	fs.StringVar(&f.PrefectURL, "prefect-url", "", "Prefect API `URL` (default: PREFECT_API_URL, the file's prefect.url, then the active Prefect profile)")
	f.formats = planFormats(cmd)
	fs.StringVarP(&f.Output, "output", "o", "text", "output format: "+formatList(f.formats))
	fs.BoolVar(&f.Prune, "prune", false, "delete objects this set created that are no longer in the file")
	fs.BoolVar(&f.AllowEmpty, "allow-empty", false, "with --prune, allow deleting every object the set owns")
	fs.BoolVar(&f.Adopt, "adopt", false, "take over declared objects that exist but this set does not own, without recreating them (see the export command)")
	fs.BoolVar(&f.SkipKubernetes, "skip-kubernetes", false, "leave the Kubernetes objects out: manage only Prefect pools and queues")
	fs.StringVar(&f.Kubeconfig, "kubeconfig", "", "kubeconfig `FILE` (default: KUBECONFIG, then ~/.kube/config, then the in-cluster config)")
	fs.BoolVar(&f.Stats, "stats", false, "print the number of requests sent, per server, verb and kind, to stderr")
	fs.StringVar(&f.KubeContext, "context", "", "kubeconfig `CONTEXT` (default: the file's kubernetes.context, then the current context)")
	fs.BoolVar(&f.AllowOrphaning, "allow-orphaning", false, "allow deleting or replacing a work pool or queue that deployments target (they stay, but no worker picks up their runs)")
	fs.BoolVar(&f.Strict, "strict", false, "treat the plan's warnings (deployments' job variables a new template drops or refuses) as errors: exit 1")
	fs.DurationVar(&f.KubeTimeout, "kube-request-timeout", kube.DefaultTimeout, "how long one Kubernetes request may take (Prefect's: PREFECT_API_REQUEST_TIMEOUT)")
}

func (f *planFlags) validate() error {
	if f.KubeTimeout <= 0 {
		return fmt.Errorf("--kube-request-timeout %s: give a positive duration, e.g. 30s or 2m", f.KubeTimeout)
	}
	return checkOutput(f.Output, f.formats...)
}

// inputs are the flags as reconcile takes them.
func (f *planFlags) inputs(ios *IOStreams, env *Env) reconcile.Inputs {
	in := env.inputs(ios)
	in.File, in.Set, in.PrefectURL = f.File, f.Set, f.PrefectURL
	in.Prune, in.AllowEmpty, in.Adopt, in.SkipKubernetes, in.ForceConflicts = f.Prune, f.AllowEmpty, f.Adopt, f.SkipKubernetes, f.ForceConflicts
	in.AllowOrphaning = f.AllowOrphaning
	in.Kubeconfig, in.KubeContext, in.KubeTimeout, in.ReplaceTimeout = f.Kubeconfig, f.KubeContext, f.KubeTimeout, f.ReplaceTimeout
	return in
}

// computePlan is the shared script of diff, sync and status, run by
// reconcile; the file's problems are printed here, one a line.
func computePlan(ctx context.Context, ios *IOStreams, env *Env, f *planFlags) (*reconcile.Planned, error) {
	p, err := reconcile.Plan(ctx, f.inputs(ios, env))
	printProblems(ios, err)
	return p, err
}

// printProblems prints each problem of a file that cannot be planned.
func printProblems(ios *IOStreams, err error) {
	var pe *reconcile.ProblemsError
	if errors.As(err, &pe) {
		for _, p := range pe.Problems {
			fmt.Fprintln(ios.ErrOut, ios.mask(p.Error()))
		}
	}
}

// printStats writes the request counts of both clients to stderr.
func printStats(ios *IOStreams, p *reconcile.Planned) {
	if p == nil {
		return
	}
	if p.Client != nil {
		printRequests(ios, "Prefect", p.Client.Stats())
	}
	if p.Kube != nil {
		printRequests(ios, "Kubernetes", p.Kube.Stats())
	}
}

// printRequests writes one server's request counts to stderr, by route.
func printRequests(ios *IOStreams, server string, stats map[string]int) {
	total := 0
	for _, n := range stats {
		total += n
	}
	fmt.Fprintf(ios.ErrOut, "requests to %s: %d\n", server, total)
	for _, k := range slices.Sorted(maps.Keys(stats)) {
		fmt.Fprintf(ios.ErrOut, "  %-44s %d\n", k, stats[k])
	}
}

// strict is --strict's refusal of a plan with warnings; nil without the
// flag.
func (f *planFlags) strict(p *plan.Plan, what string) error {
	if !f.Strict {
		return nil
	}
	return reconcile.Strict(p, what)
}
