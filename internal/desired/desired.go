// Package desired turns a validated pools.yaml into the desired State: pools
// with their built base job templates, queues, and Kubernetes objects with
// the ownership labels. Secret values are read here, at diff/sync time,
// from the environment or files; they never come from the file.
package desired

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/jobtemplate"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// Options tune Build.
type Options struct {
	// LookupEnv reads Secret values named by fromEnv; os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
	// Dir is the folder fromFile paths are relative to.
	Dir string
	// SkipKubernetes leaves the Kubernetes objects out.
	SkipKubernetes bool
	// SkipSecretValues builds Secrets without reading their values from
	// the environment or files: SecretData still lists every key of each
	// Secret, with a nil value.
	SkipSecretValues bool
	// ReadFile reads a fromFile value; config.ReadSecretFile when nil.
	// A run passes the values it read once, with the same checks.
	ReadFile func(path string) ([]byte, error)
}

// Build returns the desired State of a validated file.
func Build(f *config.File, opts Options) (*state.State, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.ReadFile == nil {
		opts.ReadFile = config.ReadSecretFile
	}
	s := state.New()
	for i := range f.Pools {
		p := &f.Pools[i]
		tmpl, err := jobtemplate.Build(p, f.JobNamespace(p))
		if err != nil {
			return nil, err
		}
		pool := &state.Pool{Name: p.Name, Type: p.Type, Description: p.Description, Paused: p.Paused,
			ConcurrencyLimit: p.ConcurrencyLimit, BaseJobTemplate: tmpl}
		if !opts.SkipKubernetes {
			pool.Requires = Requires(f, p)
		}
		s.AddPool(pool)
		for _, q := range p.Queues {
			s.AddQueue(&state.Queue{Pool: p.Name, Name: q.Name, Description: q.Description, Priority: q.Priority,
				ConcurrencyLimit: q.ConcurrencyLimit, Paused: q.Paused})
		}
	}
	if opts.SkipKubernetes || f.Kubernetes == nil {
		return s, nil
	}
	for _, r := range f.Kubernetes.Resources {
		obj := &unstructured.Unstructured{Object: deepCopy(map[string]any(r))}
		if ns := f.ResourceNamespace(r); ns != "" {
			obj.SetNamespace(ns)
		}
		label(obj, f.Set)
		s.Objects[state.ObjectKey(obj)] = obj
	}
	for i, sec := range f.Kubernetes.Secrets {
		obj, data, err := secret(f, i, sec, opts)
		if err != nil {
			return nil, err
		}
		key := state.ObjectKey(obj)
		s.Objects[key] = obj
		s.SecretData[key] = data
	}
	return s, nil
}

func label(o *unstructured.Unstructured, set string) {
	labels := o.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[state.ManagedByLabel] = state.ManagedByValue
	labels[state.SetLabel] = set
	o.SetLabels(labels)
}

// SecretError is a Secret value that could not be read: the Index-th entry
// of kubernetes.secrets, its key Key, from Source ("fromEnv" or
// "fromFile"). Callers that hold the document place it there.
type SecretError struct {
	Index       int
	Key, Source string
	Err         error
}

func (e *SecretError) Error() string { return e.Err.Error() }
func (e *SecretError) Unwrap() error { return e.Err }

func secret(f *config.File, index int, sec config.Secret, opts Options) (*unstructured.Unstructured, map[string][]byte, error) {
	ns := sec.Namespace
	if ns == "" {
		ns = f.DefaultNamespace()
	}
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret"}}
	obj.SetName(sec.Name)
	obj.SetNamespace(ns)
	if len(sec.Labels) > 0 {
		obj.SetLabels(sec.Labels)
	}
	if len(sec.Annotations) > 0 {
		obj.SetAnnotations(sec.Annotations)
	}
	obj.Object["type"] = orDefault(sec.Type, "Opaque")
	label(obj, f.Set)
	data := map[string][]byte{}
	keys := make([]string, 0, len(sec.Keys))
	for k := range sec.Keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if opts.SkipSecretValues {
			data[k] = nil
			continue
		}
		src := sec.Keys[k]
		switch {
		case src.FromEnv != "":
			v, ok := opts.LookupEnv(src.FromEnv)
			if !ok {
				return nil, nil, &SecretError{Index: index, Key: k, Source: "fromEnv",
					Err: fmt.Errorf("secret %s/%s key %q: environment variable %s is not set", ns, sec.Name, k, src.FromEnv)}
			}
			data[k] = []byte(v)
		case src.FromFile != "":
			path := src.FromFile
			if !filepath.IsAbs(path) {
				path = filepath.Join(opts.Dir, path)
			}
			v, err := opts.ReadFile(path)
			if err != nil {
				return nil, nil, &SecretError{Index: index, Key: k, Source: "fromFile",
					Err: fmt.Errorf("secret %s/%s key %q: reading %s: %w", ns, sec.Name, k, src.FromFile, unwrapPath(err))}
			}
			data[k] = v
		}
	}
	return obj, data, nil
}

// unwrapPath drops the path an os error repeats.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Requires lists the Kubernetes objects a pool's jobs use: its job
// namespace, service account, Secrets and ConfigMaps of its env, and PVCs.
func Requires(f *config.File, p *config.Pool) []state.Key {
	ns := f.JobNamespace(p)
	var keys []state.Key
	add := func(kind, namespace, name string) {
		keys = append(keys, state.Key{System: state.Kubernetes, Kind: kind, Namespace: namespace, Name: name})
	}
	add("Namespace", "", ns)
	t := p.JobTemplate
	if t == nil {
		return keys
	}
	if t.ServiceAccountName != "" {
		add("ServiceAccount", ns, t.ServiceAccountName)
	}
	for _, e := range t.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			add("Secret", ns, e.ValueFrom.SecretKeyRef.Name)
		}
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
			add("ConfigMap", ns, e.ValueFrom.ConfigMapKeyRef.Name)
		}
	}
	for _, v := range t.Volumes {
		if v.PersistentVolumeClaim != nil {
			add("PersistentVolumeClaim", ns, v.PersistentVolumeClaim.ClaimName)
		}
	}
	return keys
}

func deepCopy(m map[string]any) map[string]any {
	return (&unstructured.Unstructured{Object: m}).DeepCopy().Object
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
