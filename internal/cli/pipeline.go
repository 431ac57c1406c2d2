package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/apply"
	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/desired"
	"github.com/prefect-apply/prefect-apply/internal/inventory"
	"github.com/prefect-apply/prefect-apply/internal/kube"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// KubeClient is what diff and sync need of a cluster.
type KubeClient interface {
	apply.Kubernetes
	// ReadLive lists namespaced kinds in namespaces, or across the cluster
	// when it is nil.
	ReadLive(ctx context.Context, set string, declared []state.Key, namespaces []string) (map[state.Key]*unstructured.Unstructured, error)
	Predict(ctx context.Context, existing, created []*unstructured.Unstructured, data map[state.Key]map[string][]byte) (*kube.DryRun, error)
	Get(ctx context.Context, key state.Key) (*unstructured.Unstructured, bool, error)
	Stats() map[string]int
}

// PrefectClient is what diff and sync need of a Prefect server.
type PrefectClient interface {
	apply.Prefect
	inventory.Store
	ReadState(ctx context.Context) (*state.State, error)
	Stats() map[string]int
}

// Env is the outside world a command reads: environment and home folder.
type Env struct {
	LookupEnv func(string) (string, bool)
	HomeDir   string
	// NewPrefect builds the Prefect client; tests may replace it.
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

// SystemEnv is the process's environment.
func SystemEnv() *Env {
	home, _ := os.UserHomeDir()
	return &Env{LookupEnv: os.LookupEnv, HomeDir: home}
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
	Stats          bool
	// ReplaceTimeout is sync's --replace-timeout, KubeTimeout
	// --kube-request-timeout.
	ReplaceTimeout time.Duration
	KubeTimeout    time.Duration
}

func (f *planFlags) register(fs *pflag.FlagSet, cmd string) {
	fileFlag(fs, &f.File, cmd, "pools.yaml", "pools.yaml `FILE` to apply")
	fs.StringVar(&f.Set, "set", "", "ownership set `NAME` (default: the file's `set`, else its base name, e.g. team-pools for Team_Pools.yaml)")
	fs.StringVar(&f.PrefectURL, "prefect-url", "", "Prefect API `URL` (default: PREFECT_API_URL, the file's prefect.url, then the active Prefect profile)")
	fs.StringVarP(&f.Output, "output", "o", "text", "output format: text, json or markdown")
	fs.BoolVar(&f.Prune, "prune", false, "delete objects this set created that are no longer in the file")
	fs.BoolVar(&f.AllowEmpty, "allow-empty", false, "with --prune, allow deleting every object the set owns")
	fs.BoolVar(&f.Adopt, "adopt", false, "take over declared objects that exist but this set does not own, without recreating them (see the export command)")
	fs.BoolVar(&f.SkipKubernetes, "skip-kubernetes", false, "leave the Kubernetes objects out: manage only Prefect pools and queues")
	fs.StringVar(&f.Kubeconfig, "kubeconfig", "", "kubeconfig `FILE` (default: KUBECONFIG, then ~/.kube/config, then the in-cluster config)")
	fs.BoolVar(&f.Stats, "stats", false, "print the number of requests sent, per server, verb and kind, to stderr")
	fs.StringVar(&f.KubeContext, "context", "", "kubeconfig `CONTEXT` (default: the file's kubernetes.context, then the current context)")
	fs.DurationVar(&f.KubeTimeout, "kube-request-timeout", kube.DefaultTimeout, "how long one Kubernetes request may take (Prefect's: PREFECT_API_REQUEST_TIMEOUT)")
}

func (f *planFlags) validate() error {
	if f.KubeTimeout <= 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("--kube-request-timeout %s: give a positive duration, e.g. 30s or 2m", f.KubeTimeout)}
	}
	switch f.Output {
	case "text", "json", "markdown":
		return nil
	}
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf("--output %q: use text, json or markdown", f.Output)}
}

// planned is everything a plan was computed from.
type planned struct {
	file    *config.File
	desired *state.State
	client  PrefectClient
	// kube is set when the cluster was read: the plan then holds every
	// Kubernetes object the set owns there.
	kube      KubeClient
	inventory *inventory.Inventory
	// inventories holds the other sets' too: an object another set owns
	// and this one adopts leaves its inventory.
	inventories *inventory.All
	plan        *plan.Plan
}

// computePlan is the shared script: load → validate → read live → plan.
func computePlan(ctx context.Context, ios *IOStreams, env *Env, f *planFlags) (*planned, error) {
	doc, file, probs := loadDocument(ios, f.File, env.lookup())
	if len(probs) > 0 {
		for _, p := range probs {
			fmt.Fprintln(ios.ErrOut, ios.mask(p.Error()))
		}
		return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s: %d problem%s; nothing was read or changed", f.File, len(probs), plural(len(probs)))}
	}
	if f.Set != "" {
		if !config.ValidSet(f.Set) {
			return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("--set %q: a set name is lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters; nothing was read or changed", f.Set)}
		}
		file.Set = f.Set
	}
	want, err := desired.Build(file, desired.Options{LookupEnv: env.lookup(), Dir: filepath.Dir(f.File), SkipKubernetes: f.SkipKubernetes})
	var se *desired.SecretError
	if errors.As(err, &se) {
		path := config.Path{"kubernetes", "secrets", strconv.Itoa(se.Index), "keys", se.Key, se.Source}
		fmt.Fprintln(ios.ErrOut, config.Problem{File: f.File, Pos: doc.Pos(path), Path: path, Message: se.Err.Error(),
			Hint: "diff and sync read Secret values, to compare them with the cluster's and to apply them; validate and --skip-kubernetes read none"}.Error())
		return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s: a Secret value could not be read; nothing was read or changed", f.File)}
	}
	if err != nil {
		return nil, err
	}
	fileURL := ""
	if file.Prefect != nil {
		fileURL = file.Prefect.URL
	}
	conn, err := prefect.Resolve(prefect.ResolveInput{FlagURL: f.PrefectURL, FileURL: fileURL, Getenv: env.getenv, HomeDir: env.HomeDir})
	if err != nil {
		return nil, err
	}
	warnInsecure(ios, conn)
	newClient := env.NewPrefect
	if newClient == nil {
		newClient = func(c prefect.Connection) (PrefectClient, error) {
			return prefect.New(c, prefect.Options{UserAgent: "prefect-apply/" + Version})
		}
	}
	client, err := newClient(conn)
	if err != nil {
		return nil, err
	}
	// The set's inventory comes first: it says where in a cluster the set's
	// objects may be. The other sets' come with it, in the same listing:
	// what they own is theirs.
	all, err := inventory.LoadAll(ctx, client, file.Set)
	if err != nil {
		return nil, err
	}
	inv := all.Own
	namespaces := kubeNamespaces(inv, file, want)
	// Prefect and Kubernetes are read at the same time. The first error
	// cancels the other read, and it is the one reported: an error that
	// comes after the cancellation is its consequence.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		err       error
		cancelled bool // the read ended after the other had failed
	}
	ended := func(err error) result {
		r := result{err: err, cancelled: err != nil && rctx.Err() != nil}
		if err != nil {
			cancel()
		}
		return r
	}
	var kr *kubeRead
	kubeDone := make(chan result, 1)
	// A file that no longer declares any Kubernetes object but keeps its
	// kubernetes section may have emptied the set there: a prune reads
	// the cluster to find what the set still owns.
	readKube := !f.SkipKubernetes && usesKubernetes(file)
	pruneOnly := !readKube && !f.SkipKubernetes && f.Prune && file.Kubernetes != nil
	noKubeconfig := false
	if readKube || pruneOnly {
		go func() {
			var err error
			kr, err = readKubernetes(rctx, ios, env, f, file, want, namespaces)
			if pruneOnly && errors.Is(err, kube.ErrNoConfig) {
				noKubeconfig, err = true, nil
			}
			kubeDone <- ended(err)
		}()
	} else {
		kubeDone <- result{}
	}
	live, err := client.ReadState(rctx)
	pres := ended(err)
	kres := <-kubeDone
	switch {
	case pres.err != nil && (!pres.cancelled || kres.err == nil || kres.cancelled):
		return nil, pres.err
	case kres.err != nil:
		return nil, kres.err
	}
	// A file without a kubernetes section may belong to a set that still
	// owns objects in a cluster. Its inventory says so, and a prune then
	// reads the cluster to delete them.
	if file.Kubernetes == nil && f.Prune && !f.SkipKubernetes && inv.Kubernetes {
		kr, err = readKubernetes(ctx, ios, env, f, file, want, namespaces)
		if errors.Is(err, kube.ErrNoConfig) {
			noKubeconfig, err = true, nil
		}
		if err != nil {
			return nil, err
		}
	}
	if noKubeconfig {
		fmt.Fprintf(ios.ErrOut, "Warning: no kubeconfig, so the cluster was not read: Kubernetes objects set %q may own are not pruned (--skip-kubernetes says that is intended)\n", file.Set)
	}
	opts := plan.Options{Set: file.Set, Prune: f.Prune, Adopt: f.Adopt, Owned: inv.Owns, InUse: inUse(file), Owners: all.OwnersOf, ForceConflicts: f.ForceConflicts}
	out := &planned{file: file, desired: want, client: client, inventory: inv, inventories: all}
	if kr != nil {
		kr.addTo(live, file.Set, &opts)
		out.kube = kr.client
	}
	if out.plan, err = plan.Compute(want, live, opts); err != nil {
		return nil, err
	}
	redactPlan(out.plan, &ios.secrets)
	if f.Prune && !f.AllowEmpty {
		if err := refuseEmptying(out.plan, opts.Owned); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// kubeNamespaces lists the namespaces where the set's namespaced objects
// may be: those its inventory records and those the file uses. nil, for
// the whole cluster, when the inventory does not know (an earlier version
// wrote it).
func kubeNamespaces(inv *inventory.Inventory, file *config.File, want *state.State) []string {
	if !inv.NamespacesKnown() {
		return nil
	}
	out := append([]string{}, inv.Namespaces...)
	if file.Kubernetes != nil && file.Kubernetes.Namespace != "" {
		out = append(out, file.Kubernetes.Namespace)
	}
	for k := range want.Objects {
		if k.Namespace != "" {
			out = append(out, k.Namespace)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// warnInsecure says on stderr when the Prefect API's certificate is not
// verified.
func warnInsecure(ios *IOStreams, conn prefect.Connection) {
	if w := conn.InsecureWarning(); w != "" {
		fmt.Fprintln(ios.ErrOut, "Warning:", w)
	}
}

// refuseEmptying stops a prune that would delete everything the set owns,
// the mark of a wrong file or a wrong --set.
func refuseEmptying(p *plan.Plan, owned func(state.Key) bool) error {
	deletes, kept := 0, 0
	for _, c := range p.Changes {
		switch {
		case c.Action == plan.Delete:
			deletes++
		case owned(c.Key) && c.Action != plan.Orphan:
			// A pool kept only because it holds queues made by hand
			// does not make the file a right one.
			kept++
		}
	}
	if deletes == 0 || kept > 0 {
		return nil
	}
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf("--prune would delete every object set %q owns (%d); nothing was changed: check -f and --set, or add --allow-empty if that is what you want", p.Set, deletes)}
}

// printStats writes the request counts of both clients to stderr.
func printStats(ios *IOStreams, p *planned) {
	if p == nil {
		return
	}
	write := func(server string, stats map[string]int) {
		keys := make([]string, 0, len(stats))
		total := 0
		for k, n := range stats {
			keys = append(keys, k)
			total += n
		}
		sort.Strings(keys)
		fmt.Fprintf(ios.ErrOut, "requests to %s: %d\n", server, total)
		for _, k := range keys {
			fmt.Fprintf(ios.ErrOut, "  %-44s %d\n", k, stats[k])
		}
	}
	if p.client != nil {
		write("Prefect", p.client.Stats())
	}
	if p.kube != nil {
		write("Kubernetes", p.kube.Stats())
	}
}
