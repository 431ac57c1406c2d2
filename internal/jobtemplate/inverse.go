package jobtemplate

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/prefect-apply/prefect-apply/internal/config"
)

// Overrides is the inverse of the merge: given a live Kubernetes base job
// template, it returns the jobTemplate overrides that Build merges onto the
// embedded default to give back exactly that template, with ok true. The
// result is verified, not assumed: the overrides are merged again and the
// outcome compared structurally with t. When the template holds anything
// the overrides cannot express (an edited manifest, another
// prefect-kubernetes version's default, a quantity in a non-canonical
// form), ok is false and the caller keeps the raw template.
//
// The namespace variable's default becomes jobTemplate.namespace, except
// "default", which a file without kubernetes.namespace implies. A template
// equal to the default gives empty overrides (jt.IsZero()).
//
// A template that lacks the null env defaults guarding its Secret
// references (see Unguarded) is compared as if it had them: the overrides
// are exact except for the guard, which the first sync adds.
func Overrides(t map[string]any) (jt *config.JobTemplate, ok bool) {
	live, err := normalized(t)
	if err != nil {
		return nil, false
	}
	if l, err := open(live); err == nil {
		for _, name := range unguarded(l) {
			guard(l, name)
		}
	}
	jt, err = invert(live)
	if err != nil {
		return nil, false
	}
	ns := jt.Namespace
	if ns == "" {
		ns = "default"
	}
	built, err := Build(&config.Pool{Name: "export", Type: "kubernetes", JobTemplate: jt}, ns)
	if err != nil {
		return nil, false
	}
	again, err := normalized(built)
	if err != nil || !reflect.DeepEqual(again, live) {
		return nil, false
	}
	return jt, true
}

// Unguarded returns, sorted, the names of the Kubernetes template's
// valueFrom env entries (Secret and ConfigMap references in the job
// manifest's container) that the env variable's default does not set to
// null. A worker with its own value of such a name (PREFECT_API_AUTH_STRING
// when it talks to a server with basic auth) puts it in the env variable,
// and prefect-kubernetes then drops the manifest entry: the value reaches
// the Job in plain text instead of the reference. Templates built from
// jobTemplate overrides always carry the guard.
func Unguarded(t map[string]any) []string {
	live, err := normalized(t)
	if err != nil {
		return nil
	}
	l, err := open(live)
	if err != nil {
		return nil
	}
	return unguarded(l)
}

func unguarded(l *template) []string {
	list, _ := l.container["env"].([]any)
	prop, _ := l.vars[varEnv].(map[string]any)
	def, _ := prop["default"].(map[string]any)
	var names []string
	for _, e := range list {
		m, _ := e.(map[string]any)
		name, _ := m["name"].(string)
		if m["valueFrom"] == nil || name == "" {
			continue
		}
		if v, has := def[name]; has && v == nil {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// guard sets the env variable's default for name to null.
func guard(l *template, name string) {
	prop, ok := l.vars[varEnv].(map[string]any)
	if !ok {
		return
	}
	def, _ := prop["default"].(map[string]any)
	if def == nil {
		def = map[string]any{}
		prop["default"] = def
	}
	def[name] = nil
}

// IsZero reports whether a jobTemplate sets nothing.
func IsZero(jt *config.JobTemplate) bool {
	return jt == nil || reflect.DeepEqual(*jt, config.JobTemplate{})
}

// normalized returns a deep copy of v in encoding/json's decoded form.
func normalized(v any) (map[string]any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// invert reads the overrides out of a template shaped like the default.
func invert(live map[string]any) (*config.JobTemplate, error) {
	def, ok, err := Default("kubernetes")
	if err != nil || !ok {
		return nil, fmt.Errorf("no embedded Kubernetes default")
	}
	d, err := open(def)
	if err != nil {
		return nil, err
	}
	l, err := open(live)
	if err != nil {
		return nil, err
	}
	// changed returns a variable's default when it differs from the
	// embedded default's.
	changed := func(name string) (any, bool) {
		lp, _ := l.vars[name].(map[string]any)
		dp, _ := d.vars[name].(map[string]any)
		v, has := lp["default"]
		if !has || v == nil {
			return nil, false
		}
		return v, !reflect.DeepEqual(v, dp["default"])
	}
	jt := &config.JobTemplate{}
	for _, step := range []func(*config.JobTemplate, *template, func(string) (any, bool)) error{
		invertScalars, invertMetadata, invertEnv, invertResources, invertPod,
	} {
		if err := step(jt, l, changed); err != nil {
			return nil, err
		}
	}
	return jt, nil
}

// invertScalars reads the string, integer and boolean variables, and the
// namespace.
func invertScalars(jt *config.JobTemplate, l *template, changed func(string) (any, bool)) error {
	for _, s := range []struct {
		name string
		dst  *string
	}{
		{varImage, &jt.Image}, {varImagePullPolicy, &jt.ImagePullPolicy},
		{varServiceAccount, &jt.ServiceAccountName}, {varCommand, &jt.Command},
	} {
		if v, ok := changed(s.name); ok {
			str, isStr := v.(string)
			if !isStr {
				return fmt.Errorf("variable %s: default %v is not a string", s.name, v)
			}
			*s.dst = str
		}
	}
	// The merge always sets the namespace; "default" is what a file
	// without one means.
	if lp, _ := l.vars[varNamespace].(map[string]any); lp != nil {
		if ns, _ := lp["default"].(string); ns != "" && ns != "default" {
			jt.Namespace = ns
		}
	}
	for _, i := range []struct {
		name string
		dst  **int
	}{
		{varFinishedJobTTL, &jt.FinishedJobTTL}, {varBackoffLimit, &jt.BackoffLimit},
		{varJobWatch, &jt.JobWatchTimeoutSeconds}, {varPodWatch, &jt.PodWatchTimeoutSeconds},
	} {
		if v, ok := changed(i.name); ok {
			f, isNum := v.(float64)
			if !isNum || f != float64(int(f)) {
				return fmt.Errorf("variable %s: default %v is not an integer", i.name, v)
			}
			n := int(f)
			*i.dst = &n
		}
	}
	if v, ok := changed(varStreamOutput); ok {
		b, isBool := v.(bool)
		if !isBool {
			return fmt.Errorf("variable %s: default %v is not a boolean", varStreamOutput, v)
		}
		jt.StreamOutput = &b
	}
	return nil
}

// invertMetadata reads the Job's labels and annotations.
func invertMetadata(jt *config.JobTemplate, _ *template, changed func(string) (any, bool)) error {
	if v, ok := changed(varLabels); ok {
		if err := decode(v, &jt.Labels); err != nil {
			return err
		}
	}
	if v, ok := changed(varAnnotations); ok {
		return decode(v, &jt.Annotations)
	}
	return nil
}

// invertPod reads what the manifest sets literally: volumes and their
// mounts, the node selector and tolerations.
func invertPod(jt *config.JobTemplate, l *template, _ func(string) (any, bool)) error {
	for _, f := range []struct {
		from map[string]any
		key  string
		dst  any
	}{
		{l.podSpec, "volumes", &jt.Volumes}, {l.container, "volumeMounts", &jt.VolumeMounts},
		{l.podSpec, "nodeSelector", &jt.NodeSelector}, {l.podSpec, "tolerations", &jt.Tolerations},
	} {
		if v, ok := f.from[f.key]; ok {
			if err := decode(v, f.dst); err != nil {
				return err
			}
		}
	}
	return nil
}

// invertEnv reads plain values from the env variable's default (sorted by
// name, as the merge keeps them in a map) and valueFrom entries from the
// container's literal env list.
func invertEnv(jt *config.JobTemplate, l *template, changed func(string) (any, bool)) error {
	if v, ok := changed(varEnv); ok {
		m, isMap := v.(map[string]any)
		if !isMap {
			return fmt.Errorf("variable env: default is not an object")
		}
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if m[n] == nil {
				continue // the null that guards a valueFrom entry of the manifest
			}
			s, isStr := m[n].(string)
			if !isStr {
				return fmt.Errorf("variable env: %s is not a string", n)
			}
			jt.Env = append(jt.Env, corev1.EnvVar{Name: n, Value: s})
		}
	}
	if list, ok := l.container["env"].([]any); ok {
		var refs []corev1.EnvVar
		if err := decode(list, &refs); err != nil {
			return err
		}
		for _, e := range refs {
			if e.ValueFrom == nil {
				return fmt.Errorf("container env %s has a literal value", e.Name)
			}
		}
		jt.Env = append(jt.Env, refs...)
	}
	return nil
}

// invertResources reads cpu and memory from the worker's variables and
// other resources (nvidia.com/gpu, ephemeral-storage) from the container.
func invertResources(jt *config.JobTemplate, l *template, changed func(string) (any, bool)) error {
	r := corev1.ResourceRequirements{}
	set := func(which string, name corev1.ResourceName, v any) error {
		s, isStr := v.(string)
		if !isStr {
			return fmt.Errorf("resource %s %s: %v is not a quantity", which, name, v)
		}
		q, err := resource.ParseQuantity(s)
		if err != nil {
			return fmt.Errorf("resource %s %s: %w", which, name, err)
		}
		list := &r.Requests
		if which == "limits" {
			list = &r.Limits
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[name] = q
		return nil
	}
	for which, vars := range resourceVars {
		for name, variable := range vars {
			if v, ok := changed(variable); ok {
				if err := set(which, name, v); err != nil {
					return err
				}
			}
		}
	}
	res, _ := l.container["resources"].(map[string]any)
	for _, which := range []string{"requests", "limits"} {
		section, _ := res[which].(map[string]any)
		for name, v := range section {
			if _, viaVariable := resourceVars[which][corev1.ResourceName(name)]; viaVariable {
				continue
			}
			if err := set(which, corev1.ResourceName(name), v); err != nil {
				return err
			}
		}
	}
	if len(r.Requests)+len(r.Limits) > 0 {
		jt.Resources = &r
	}
	return nil
}

// decode converts a JSON value into a typed one.
func decode(v any, dst any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, dst)
}
