package reconcile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/desired"
	"github.com/prefect-apply/prefect-apply/internal/kube"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// usesKubernetes reports whether the file declares or references anything
// in a cluster.
func usesKubernetes(f *config.File) bool {
	if f.Kubernetes != nil && (len(f.Kubernetes.Resources)+len(f.Kubernetes.Secrets)+len(f.Kubernetes.External) > 0) {
		return true
	}
	return false
}

// kubeRead is what readKubernetes found: the set's live objects and the
// declared ones that exist, and what the dry runs of the latter say.
type kubeRead struct {
	client  KubeClient
	objects map[state.Key]*unstructured.Unstructured
	dryRun  *kube.DryRun
}

// readKubernetes reads the set's live objects and the declared objects that
// exist, predicts the latter by dry run, and checks that the objects the
// pools reference and the file does not declare exist. It does not need
// the Prefect state, so it runs while that is read.
func (in *Inputs) readKubernetes(ctx context.Context, file *config.File, want *state.State, namespaces []string) (*kubeRead, error) {
	kc, err := in.connectKube(file)
	if err != nil {
		return nil, err
	}
	declared := slices.Collect(maps.Keys(want.Objects))
	state.SortKeys(declared)
	objs, err := kc.ReadLive(ctx, file.Set, declared, namespaces)
	if err != nil {
		return nil, err
	}
	var existing, created []*unstructured.Unstructured
	for _, k := range declared {
		switch {
		case objs[k] != nil:
			existing = append(existing, want.Objects[k])
		case canDryRunCreate(k, want, objs):
			created = append(created, want.Objects[k])
		}
	}
	dry, err := kc.Predict(ctx, existing, created, want.SecretData)
	if err != nil {
		return nil, err
	}
	for _, k := range declared {
		if why, ok := dry.Unchecked[k]; ok {
			in.notify("Note: %s is planned for creation without the API server's dry run: %s", k, why)
		}
	}
	if err := checkExternal(ctx, kc, file); err != nil {
		return nil, err
	}
	return &kubeRead{client: kc, objects: objs, dryRun: dry}, nil
}

// connectKube builds the cluster client: --context, else the file's
// kubernetes.context, else the kubeconfig's current one.
func (in *Inputs) connectKube(file *config.File) (KubeClient, error) {
	kctx := in.KubeContext
	if kctx == "" && file.Kubernetes != nil {
		kctx = file.Kubernetes.Context
	}
	return in.Connect.WithDefaults(userAgent).Kube(kube.Options{Kubeconfig: in.Kubeconfig, KubeconfigEnv: in.getenv("KUBECONFIG"), HomeDir: in.HomeDir,
		Context: kctx, ForceConflicts: in.ForceConflicts, ReplaceWait: in.ReplaceTimeout, Timeout: in.KubeTimeout,
		Notify: func(msg string) { in.notify("%s", msg) }})
}

// canDryRunCreate reports whether the server can judge the creation of a
// declared object that does not exist: it is cluster-scoped, or its
// namespace exists and is not being deleted. A namespace the file declares
// and the same sync creates (or creates again) cannot be dry-run into: the
// object is planned from the file alone, as before. A namespace the file
// does not declare is someone else's; the dry run says if it is missing.
func canDryRunCreate(k state.Key, want *state.State, live map[state.Key]*unstructured.Unstructured) bool {
	if k.Namespace == "" {
		return true
	}
	ns := state.Key{System: state.Kubernetes, Kind: "Namespace", Name: k.Namespace}
	if _, declared := want.Objects[ns]; !declared {
		return true
	}
	o, ok := live[ns]
	return ok && o.GetDeletionTimestamp() == nil
}

// addTo puts the objects read into live and tells the planner which of
// them the set owns (its labels say so) and what their dry runs predict.
func (r *kubeRead) addTo(live *state.State, set string, opts *plan.Options) {
	for k, o := range r.objects {
		live.Objects[k] = o
	}
	owned := opts.Owned
	opts.Owned = func(k state.Key) bool {
		if k.System == state.Kubernetes {
			o, ok := live.Objects[k]
			return ok && state.OwnedBy(o, set)
		}
		return owned(k)
	}
	opts.Predicted = r.dryRun.Predicted
	opts.Immutable = r.dryRun.Immutable
	opts.Conflicts = r.dryRun.Conflicts
	opts.Refused = r.dryRun.Refused
}

// checkExternal checks what validate could only take on trust: the objects
// listed under kubernetes.external exist, with the keys the file expects.
func checkExternal(ctx context.Context, kc KubeClient, file *config.File) error {
	if file.Kubernetes == nil {
		return nil
	}
	var problems []string
	for _, e := range file.Kubernetes.External {
		key := externalKey(file, e)
		o, found, err := kc.Get(ctx, key)
		if err != nil {
			return err
		}
		users := poolsUsing(file, key)
		if !found {
			problems = append(problems, fmt.Sprintf("%s, listed under kubernetes.external%s, does not exist in the cluster", key, users))
			continue
		}
		if len(e.Keys) > 0 && (e.Kind == "Secret" || e.Kind == "ConfigMap") {
			data, _ := o.Object["data"].(map[string]any)
			for _, k := range e.Keys {
				if _, ok := data[k]; !ok {
					problems = append(problems, fmt.Sprintf("%s has no key %q%s", key, k, users))
				}
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("the cluster lacks what the file references:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// externalKey is the key of an object listed under kubernetes.external.
func externalKey(file *config.File, e config.ExternalObject) state.Key {
	ns := e.Namespace
	if e.Kind != "Namespace" && ns == "" {
		ns = file.Kubernetes.Namespace
	}
	if e.Kind == "Namespace" {
		ns = ""
	}
	return state.Key{System: state.Kubernetes, Kind: e.Kind, Namespace: ns, Name: e.Name}
}

// inUse lists the Kubernetes objects the file uses without declaring them
// (plan.Options.InUse): what kubernetes.external lists and what the jobs
// of the pools with a jobTemplate use. A set that declared one of them before owns it, and --prune
// must not delete what the file still relies on.
func inUse(file *config.File) map[state.Key]string {
	out := map[state.Key]string{}
	if file.Kubernetes != nil {
		for _, e := range file.Kubernetes.External {
			out[externalKey(file, e)] = "the file lists it under kubernetes.external"
		}
	}
	for i := range file.Pools {
		p := &file.Pools[i]
		if p.JobTemplate == nil {
			continue // no jobs the file describes: nothing it relies on
		}
		for _, k := range desired.Requires(file, p) {
			if _, ok := out[k]; !ok {
				out[k] = fmt.Sprintf("work pool %q uses it", p.Name)
			}
		}
	}
	return out
}

// poolsUsing names the pools whose jobs use an object, for messages.
func poolsUsing(file *config.File, key state.Key) string {
	var names []string
	for i := range file.Pools {
		p := &file.Pools[i]
		for _, r := range desired.Requires(file, p) {
			if r == key {
				names = append(names, fmt.Sprintf("%q", p.Name))
				break
			}
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " (used by pool " + strings.Join(names, ", ") + ")"
}
