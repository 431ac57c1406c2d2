package jobtemplate

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/prefect-apply/prefect-apply/internal/config"
)

// variableOf maps jobTemplate fields to the Kubernetes worker's variables.
// Setting one sets the variable's default, so deployments can still
// override it with job_variables.
const (
	varImage           = "image"
	varImagePullPolicy = "image_pull_policy"
	varNamespace       = "namespace"
	varServiceAccount  = "service_account_name"
	varCommand         = "command"
	varEnv             = "env"
	varLabels          = "labels"
	varAnnotations     = "annotations"
	varFinishedJobTTL  = "finished_job_ttl"
	varBackoffLimit    = "backoff_limit"
	varJobWatch        = "job_watch_timeout_seconds"
	varPodWatch        = "pod_watch_timeout_seconds"
	varStreamOutput    = "stream_output"
)

// resourceVars are the worker's variables for container resources.
var resourceVars = map[string]map[corev1.ResourceName]string{
	"requests": {corev1.ResourceCPU: "cpu_request", corev1.ResourceMemory: "memory_request"},
	"limits":   {corev1.ResourceCPU: "cpu_limit", corev1.ResourceMemory: "memory_limit"},
}

// Build returns the base job template to send for a pool: its raw
// baseJobTemplate as it is, or the worker type's default with the
// jobTemplate overrides merged in. namespace is the pool's job namespace
// (config.File.JobNamespace).
func Build(p *config.Pool, namespace string) (map[string]any, error) {
	if p.BaseJobTemplate != nil {
		return map[string]any{
			"job_configuration": p.BaseJobTemplate.JobConfiguration,
			"variables":         p.BaseJobTemplate.Variables,
		}, nil
	}
	t, ok, err := Default(p.Type)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("work pool %q: no default template for type %q; give a baseJobTemplate", p.Name, p.Type)
	}
	if p.Type != "kubernetes" {
		return t, nil
	}
	if err := merge(t, p.JobTemplate, namespace); err != nil {
		return nil, fmt.Errorf("work pool %q: %w", p.Name, err)
	}
	return t, nil
}

type template struct {
	vars      map[string]any
	manifest  map[string]any
	podSpec   map[string]any
	container map[string]any
}

func open(t map[string]any) (*template, error) {
	jc, _ := t["job_configuration"].(map[string]any)
	vs, _ := t["variables"].(map[string]any)
	props, _ := vs["properties"].(map[string]any)
	manifest, _ := jc["job_manifest"].(map[string]any)
	spec, _ := manifest["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	podSpec, _ := tmpl["spec"].(map[string]any)
	containers, _ := podSpec["containers"].([]any)
	if props == nil || podSpec == nil || len(containers) == 0 {
		return nil, fmt.Errorf("the default Kubernetes template has an unexpected shape (no variables.properties or job_manifest container)")
	}
	container, _ := containers[0].(map[string]any)
	return &template{vars: props, manifest: manifest, podSpec: podSpec, container: container}, nil
}

// setDefault sets a variable's default; it reports false when the template
// has no such variable.
func (t *template) setDefault(name string, v any) bool {
	prop, ok := t.vars[name].(map[string]any)
	if !ok {
		return false
	}
	prop["default"] = v
	return true
}

func merge(base map[string]any, o *config.JobTemplate, namespace string) error {
	t, err := open(base)
	if err != nil {
		return err
	}
	if namespace != "" {
		t.setDefault(varNamespace, namespace)
	}
	if o == nil {
		return nil
	}
	strs := []struct{ name, v string }{
		{varImage, o.Image}, {varImagePullPolicy, o.ImagePullPolicy},
		{varServiceAccount, o.ServiceAccountName}, {varCommand, o.Command},
	}
	for _, s := range strs {
		if s.v != "" && !t.setDefault(s.name, s.v) {
			return fmt.Errorf("the default template has no %q variable", s.name)
		}
	}
	ints := []struct {
		name string
		v    *int
	}{{varFinishedJobTTL, o.FinishedJobTTL}, {varBackoffLimit, o.BackoffLimit}, {varJobWatch, o.JobWatchTimeoutSeconds}, {varPodWatch, o.PodWatchTimeoutSeconds}}
	for _, i := range ints {
		if i.v != nil && !t.setDefault(i.name, *i.v) {
			return fmt.Errorf("the default template has no %q variable", i.name)
		}
	}
	if o.StreamOutput != nil {
		t.setDefault(varStreamOutput, *o.StreamOutput)
	}
	if len(o.Labels) > 0 && !t.setDefault(varLabels, o.Labels) {
		if err := setPath(t.manifest, []string{"metadata", "labels"}, o.Labels); err != nil {
			return err
		}
	}
	if len(o.Annotations) > 0 && !t.setDefault(varAnnotations, o.Annotations) {
		if err := setPath(t.manifest, []string{"metadata", "annotations"}, o.Annotations); err != nil {
			return err
		}
	}
	if err := t.env(o.Env); err != nil {
		return err
	}
	if err := t.resources(o.Resources); err != nil {
		return err
	}
	return t.literals(o)
}

// literals writes the overrides that have no variable into the manifest
// as they are: volumes, volume mounts, node selector, tolerations.
func (t *template) literals(o *config.JobTemplate) error {
	literals := []struct {
		into  map[string]any
		key   string
		value any
		set   bool
	}{
		{t.podSpec, "volumes", o.Volumes, len(o.Volumes) > 0},
		{t.container, "volumeMounts", o.VolumeMounts, len(o.VolumeMounts) > 0},
		{t.podSpec, "nodeSelector", o.NodeSelector, len(o.NodeSelector) > 0},
		{t.podSpec, "tolerations", o.Tolerations, len(o.Tolerations) > 0},
	}
	for _, l := range literals {
		if !l.set {
			continue
		}
		v, err := toJSON(l.value)
		if err != nil {
			return fmt.Errorf("%s: %w", l.key, err)
		}
		l.into[l.key] = v
	}
	return nil
}

// env puts plain values in the env variable's default (a name → value
// object, which deployments can extend) and writes valueFrom entries as a
// literal list in the manifest's container: the worker prepends the
// variable's entries to that list. Each valueFrom name is null in the
// default, so the worker's own value of it cannot replace the reference.
func (t *template) env(env []corev1.EnvVar) error {
	if len(env) == 0 {
		return nil
	}
	plain := map[string]any{}
	var refs []any
	for _, e := range env {
		if e.ValueFrom != nil {
			ref, err := toJSON(e)
			if err != nil {
				return fmt.Errorf("env %q: %w", e.Name, err)
			}
			refs = append(refs, ref)
			// A worker adds its own settings (PREFECT_API_AUTH_STRING among
			// them) to the env variable, and prefect-kubernetes then drops
			// a manifest entry of the same name: the secret would reach the
			// Job in plain text. The worker filters a null default out,
			// and the reference stays.
			plain[e.Name] = nil
			continue
		}
		plain[e.Name] = e.Value
	}
	if len(plain) > 0 && !t.setDefault(varEnv, plain) {
		return fmt.Errorf("the default template has no %q variable", varEnv)
	}
	if len(refs) > 0 {
		t.container["env"] = refs
	}
	return nil
}

// resources sets the worker's cpu/memory variables and writes any other
// resource (nvidia.com/gpu, ephemeral-storage) into the container literally.
func (t *template) resources(r *corev1.ResourceRequirements) error {
	if r == nil {
		return nil
	}
	res, _ := t.container["resources"].(map[string]any)
	if res == nil {
		res = map[string]any{}
		t.container["resources"] = res
	}
	for which, list := range map[string]corev1.ResourceList{"requests": r.Requests, "limits": r.Limits} {
		names := make([]string, 0, len(list))
		for n := range list {
			names = append(names, string(n))
		}
		sort.Strings(names)
		for _, n := range names {
			q := list[corev1.ResourceName(n)]
			if v, ok := resourceVars[which][corev1.ResourceName(n)]; ok && t.setDefault(v, q.String()) {
				continue
			}
			section, _ := res[which].(map[string]any)
			if section == nil {
				section = map[string]any{}
				res[which] = section
			}
			section[n] = q.String()
		}
	}
	return nil
}

// setPath sets v, as JSON values, at path in m, making the maps on the way.
func setPath(m map[string]any, path []string, v any) error {
	value, err := toJSON(v)
	if err != nil {
		return fmt.Errorf("%s: %w", strings.Join(path, "."), err)
	}
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = value
	return nil
}

// toJSON converts a typed value to its JSON-compatible form.
func toJSON(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}
