package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/inventory"
	"github.com/prefect-apply/prefect-apply/internal/kube"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/redact"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// Inputs are what one plan is computed from: the file, the options of
// diff and sync, the environment and the clients.
type Inputs struct {
	// File is the pools.yaml path.
	File string
	// Set overrides the file's ownership set when not empty.
	Set        string
	PrefectURL string
	Prune      bool
	// AllowEmpty lets a prune delete everything the set owns.
	AllowEmpty     bool
	Adopt          bool
	SkipKubernetes bool
	ForceConflicts bool
	// AllowOrphaning lets the plan delete or replace a pool or queue that
	// deployments target.
	AllowOrphaning bool
	Kubeconfig     string
	KubeContext    string
	KubeTimeout    time.Duration
	ReplaceTimeout time.Duration
	// LookupEnv reads the environment (os.LookupEnv when nil); HomeDir
	// holds the Prefect profile and the default kubeconfig.
	LookupEnv func(string) (string, bool)
	HomeDir   string
	Connect   Connect
	// Secrets are the values masked in the plan; Plan adds the file's.
	// Nil masks nothing.
	Secrets *redact.Set
	// Notify takes the notes and warnings of the run, one line each
	// without a trailing newline; nil drops them.
	Notify func(string)
	// files are the file's fromFile values, read once by load.
	files SecretFiles
}

func (in *Inputs) lookup() func(string) (string, bool) {
	if in.LookupEnv == nil {
		return os.LookupEnv
	}
	return in.LookupEnv
}

func (in *Inputs) getenv(k string) string {
	v, _ := in.lookup()(k)
	return v
}

func (in *Inputs) notify(format string, args ...any) {
	if in.Notify != nil {
		in.Notify(fmt.Sprintf(format, args...))
	}
}

// Planned is a plan with everything it was computed from.
type Planned struct {
	File *config.File
	// Document is the file as loaded, with its source positions (see
	// Declared).
	Document *config.Document
	Desired  *state.State
	// Live is the state the plan was computed against: the Prefect
	// server's pools and queues, and the cluster's objects when it was
	// read.
	Live   *state.State
	Plan   *plan.Plan
	Client PrefectClient
	// Kube is set when the cluster was read: the plan then holds every
	// Kubernetes object the set owns there.
	Kube      KubeClient
	Inventory *inventory.Inventory
	// Inventories holds the other sets' too: an object another set owns
	// and this one adopts leaves its inventory.
	Inventories *inventory.All
	// Dependents are the deployments and runs on the pools the plan
	// changes; nil when it changes no existing pool or queue (nothing
	// was read).
	Dependents *state.Dependents
}

// Plan is the shared script of diff and sync: load → validate → build the
// desired state → read both systems → plan → mask → guard an emptying
// prune.
func Plan(ctx context.Context, in Inputs) (*Planned, error) {
	doc, file, err := in.load()
	if err != nil {
		return nil, err
	}
	want, err := in.build(doc, file)
	if err != nil {
		return nil, err
	}
	client, err := in.connectPrefect(file)
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
	out := &Planned{File: file, Document: doc, Desired: want, Client: client, Inventory: all.Own, Inventories: all}
	kr, err := in.readBoth(ctx, out)
	if err != nil {
		return nil, err
	}
	if err := in.compute(ctx, out, kr); err != nil {
		return nil, err
	}
	return out, nil
}

// ConnectPrefect resolves the Prefect connection as every command does
// (flag, environment, file, profile), says when its certificate is not
// verified, and builds the client.
func ConnectPrefect(in Inputs, fileURL string) (PrefectClient, error) {
	conn, err := prefect.Resolve(prefect.ResolveInput{FlagURL: in.PrefectURL, FileURL: fileURL, Getenv: in.getenv, HomeDir: in.HomeDir})
	if err != nil {
		return nil, err
	}
	if w := conn.InsecureWarning(); w != "" {
		in.notify("Warning: %s", w)
	}
	return in.Connect.WithDefaults(userAgent).Prefect(conn)
}

// userAgent is the default client's; cli builds its own with the version.
const userAgent = "prefect-apply"

func (in *Inputs) connectPrefect(file *config.File) (PrefectClient, error) {
	fileURL := ""
	if file.Prefect != nil {
		fileURL = file.Prefect.URL
	}
	return ConnectPrefect(*in, fileURL)
}

// compute plans from what was read, reads what runs on the pools the plan
// changes and assesses the plan's risk to it, masks the plan and refuses
// a prune that would empty the set.
func (in *Inputs) compute(ctx context.Context, out *Planned, kr *kubeRead) error {
	opts := plan.Options{Set: out.File.Set, Prune: in.Prune, Adopt: in.Adopt, Owned: out.Inventory.Owns,
		InUse: inUse(out.File), Owners: out.Inventories.OwnersOf, ForceConflicts: in.ForceConflicts}
	if kr != nil {
		kr.addTo(out.Live, out.File.Set, &opts)
		out.Kube = kr.client
	}
	var err error
	if out.Plan, err = plan.Compute(out.Desired, out.Live, opts); err != nil {
		return err
	}
	// Only what the plan touches is read: a plan without changes to
	// existing pools and queues sends no request for it.
	if pools := out.Plan.PoolsAtRisk(); len(pools) > 0 {
		if out.Dependents, err = out.Client.ReadDependents(ctx, pools); err != nil {
			return err
		}
		plan.Assess(out.Plan, out.Dependents, plan.AssessOptions{AllowOrphaning: in.AllowOrphaning})
	}
	maskPlan(out.Plan, in.Secrets)
	if in.Prune && !in.AllowEmpty {
		return refuseEmptying(out.Plan, opts.Owned)
	}
	return nil
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
	return &EmptyingError{Set: p.Set, Deletes: deletes}
}

// EmptyingError is a prune refused because it would delete every object
// the set owns.
type EmptyingError struct {
	Set     string
	Deletes int
}

func (e *EmptyingError) Error() string {
	return fmt.Sprintf("--prune would delete every object set %q owns (%d); nothing was changed: check -f and --set, or add --allow-empty if that is what you want", e.Set, e.Deletes)
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
	slices.Sort(out)
	return slices.Compact(out)
}

// errNoKubeconfig says whether a cluster read failed only for want of a
// kubeconfig.
func errNoKubeconfig(err error) bool { return errors.Is(err, kube.ErrNoConfig) }
