package jobtemplate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/redact"
)

// Job is the job a pool's workers run for a deployment that sets no job
// variables: its base job template with each variable's default put in
// the job configuration's {{ placeholders }}. A Kubernetes template fills
// the fields up to Tolerations; any template fills Env (from the env
// variable) and Variables. A value a template does not set is empty.
type Job struct {
	Image              string `json:"image,omitempty"`
	ImagePullPolicy    string `json:"imagePullPolicy,omitempty"`
	Command            string `json:"command,omitempty"`
	Namespace          string `json:"namespace,omitempty"`
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// Resources are the container's requests and limits, by resource.
	Resources    map[string]map[string]string `json:"resources,omitempty"`
	Env          []JobEnv                     `json:"env,omitempty"`
	Volumes      []JobVolume                  `json:"volumes,omitempty"`
	VolumeMounts []JobMount                   `json:"volumeMounts,omitempty"`
	NodeSelector map[string]string            `json:"nodeSelector,omitempty"`
	// Tolerations are written as kubectl describe does:
	// key=value:NoSchedule, key:NoExecute for 300s.
	Tolerations []string `json:"tolerations,omitempty"`
	// Variables are the other variables' defaults, by name, as compact
	// JSON; a secret-looking name's value is redact.Masked.
	Variables []JobVariable `json:"variables,omitempty"`
}

// JobEnv is an environment variable of the job and where its value comes
// from: From is "value" (Value holds it, or redact.Masked under a
// secret-looking name), "secretKeyRef" or "configMapKeyRef" (Ref is
// name/key), "fieldRef" (Ref is the field path), "resourceFieldRef" (Ref
// is the resource), or "valueFrom" for another kind of reference.
type JobEnv struct {
	Name  string `json:"name"`
	From  string `json:"from"`
	Value string `json:"value,omitempty"`
	Ref   string `json:"ref,omitempty"`
}

// JobVolume is a pod volume: its name, its kind (persistentVolumeClaim,
// secret, configMap, emptyDir, ...) and what it reads (the claim, Secret
// or ConfigMap name), if anything.
type JobVolume struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Source string `json:"source,omitempty"`
}

// JobMount is a container's volume mount.
type JobMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	SubPath   string `json:"subPath,omitempty"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
}

// JobVariable is a variable's default, as compact JSON.
type JobVariable struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// kubernetesVars are the variables a Kubernetes Job shows in its own
// fields; Variables lists the others.
var kubernetesVars = map[string]bool{
	varImage: true, varImagePullPolicy: true, varNamespace: true, varServiceAccount: true, varCommand: true,
	"cpu_request": true, "cpu_limit": true, "memory_request": true, "memory_limit": true,
}

// EffectiveJob reads the job of a base job template (see Job); nil when t
// is not a template (it has no variables).
func EffectiveJob(t map[string]any) *Job {
	t, err := normalized(t)
	if err != nil {
		return nil
	}
	vs, _ := t["variables"].(map[string]any)
	props, _ := vs["properties"].(map[string]any)
	if props == nil {
		return nil
	}
	defaults := map[string]any{}
	for name, p := range props {
		if m, _ := p.(map[string]any); m != nil && m["default"] != nil {
			defaults[name] = m["default"]
		}
	}
	job := &Job{Env: literalEnv(defaults[varEnv])}
	shown := map[string]bool{varEnv: true}
	jc, _ := t["job_configuration"].(map[string]any)
	if manifest, _ := jc["job_manifest"].(map[string]any); manifest != nil {
		resolved, _ := substitute(manifest, defaults).(map[string]any)
		job.readManifest(resolved, manifest)
		job.Command, _ = defaults[varCommand].(string)
		if job.Namespace == "" {
			job.Namespace, _ = substitute(jc["namespace"], defaults).(string)
		}
		for name := range kubernetesVars {
			shown[name] = true
		}
	}
	job.Variables = otherVariables(defaults, shown)
	return job
}

// literalEnv lists the env variable's default, a name → value object:
// what the worker puts first in the job's environment. A null value is a
// guard (see Unguarded), not an entry.
func literalEnv(v any) []JobEnv {
	m, _ := v.(map[string]any)
	var out []JobEnv
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if m[name] == nil {
			continue
		}
		out = append(out, literal(name, m[name]))
	}
	return out
}

func literal(name string, v any) JobEnv {
	s, isString := v.(string)
	if !isString {
		s = compact(v)
	}
	if redact.LooksSecret(name) {
		s = redact.Masked
	}
	return JobEnv{Name: name, From: "value", Value: s}
}

// otherVariables lists the defaults a Job's own fields do not show.
func otherVariables(defaults map[string]any, shown map[string]bool) []JobVariable {
	var out []JobVariable
	for _, name := range slices.Sorted(maps.Keys(defaults)) {
		if shown[name] {
			continue
		}
		v := compact(defaults[name])
		if redact.LooksSecret(name) {
			v = redact.Masked
		}
		out = append(out, JobVariable{Name: name, Value: v})
	}
	return out
}

// readManifest reads a Kubernetes Job manifest, its placeholders
// substituted; raw is the manifest as the template writes it, for the
// env entries a placeholder gives (the env variable, already listed).
func (j *Job) readManifest(resolved, raw map[string]any) {
	md, _ := resolved["metadata"].(map[string]any)
	j.Namespace, _ = md["namespace"].(string)
	pod := podSpecOf(resolved)
	j.ServiceAccountName, _ = pod["serviceAccountName"].(string)
	j.NodeSelector = stringMap(pod["nodeSelector"])
	j.Tolerations = tolerations(pod["tolerations"])
	j.Volumes = volumes(pod["volumes"])
	containers, _ := pod["containers"].([]any)
	if len(containers) == 0 {
		return
	}
	c, _ := containers[0].(map[string]any)
	j.Image, _ = c["image"].(string)
	j.ImagePullPolicy, _ = c["imagePullPolicy"].(string)
	j.Resources = resources(c["resources"])
	j.VolumeMounts = mounts(c["volumeMounts"])
	rawContainers, _ := podSpecOf(raw)["containers"].([]any)
	if len(rawContainers) == 0 {
		return
	}
	rawC, _ := rawContainers[0].(map[string]any)
	if list, isList := rawC["env"].([]any); isList {
		resolvedList, _ := c["env"].([]any)
		j.Env = append(j.Env, manifestEnv(list, resolvedList)...)
	}
}

func podSpecOf(manifest map[string]any) map[string]any {
	spec, _ := manifest["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	pod, _ := tmpl["spec"].(map[string]any)
	return pod
}

// manifestEnv reads a container's env entries: a literal value (resolved
// holds it substituted) or a valueFrom reference.
func manifestEnv(raw, resolved []any) []JobEnv {
	var out []JobEnv
	for i, e := range raw {
		m, _ := e.(map[string]any)
		name, _ := m["name"].(string)
		var r map[string]any
		if i < len(resolved) {
			r, _ = resolved[i].(map[string]any)
		}
		from, _ := r["valueFrom"].(map[string]any)
		switch {
		case from == nil:
			out = append(out, literal(name, r["value"]))
		case from["secretKeyRef"] != nil:
			out = append(out, JobEnv{Name: name, From: "secretKeyRef", Ref: keyRef(from["secretKeyRef"])})
		case from["configMapKeyRef"] != nil:
			out = append(out, JobEnv{Name: name, From: "configMapKeyRef", Ref: keyRef(from["configMapKeyRef"])})
		case from["fieldRef"] != nil:
			f, _ := from["fieldRef"].(map[string]any)
			path, _ := f["fieldPath"].(string)
			out = append(out, JobEnv{Name: name, From: "fieldRef", Ref: path})
		case from["resourceFieldRef"] != nil:
			f, _ := from["resourceFieldRef"].(map[string]any)
			res, _ := f["resource"].(string)
			out = append(out, JobEnv{Name: name, From: "resourceFieldRef", Ref: res})
		default:
			out = append(out, JobEnv{Name: name, From: "valueFrom"})
		}
	}
	return out
}

func keyRef(v any) string {
	m, _ := v.(map[string]any)
	name, _ := m["name"].(string)
	key, _ := m["key"].(string)
	return name + "/" + key
}

// resources reads a container's requests and limits; a quantity whose
// variable has no default is not set.
func resources(v any) map[string]map[string]string {
	m, _ := v.(map[string]any)
	out := map[string]map[string]string{}
	for _, which := range []string{"requests", "limits"} {
		if list := stringMap(m[which]); len(list) > 0 {
			out[which] = list
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// volumeSources name the field of each volume kind that names what it
// reads.
var volumeSources = map[string]string{
	"persistentVolumeClaim": "claimName", "secret": "secretName", "configMap": "name",
	"hostPath": "path", "nfs": "path",
}

func volumes(v any) []JobVolume {
	list, _ := v.([]any)
	var out []JobVolume
	for _, e := range list {
		m, _ := e.(map[string]any)
		vol := JobVolume{}
		vol.Name, _ = m["name"].(string)
		for _, kind := range slices.Sorted(maps.Keys(m)) {
			if kind == "name" {
				continue
			}
			vol.Kind = kind
			src, _ := m[kind].(map[string]any)
			vol.Source, _ = src[volumeSources[kind]].(string)
			break
		}
		out = append(out, vol)
	}
	return out
}

func mounts(v any) []JobMount {
	var out []JobMount
	raw, _ := json.Marshal(v)
	_ = json.Unmarshal(raw, &out)
	return out
}

func tolerations(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, e := range list {
		m, _ := e.(map[string]any)
		key, _ := m["key"].(string)
		value, _ := m["value"].(string)
		effect, _ := m["effect"].(string)
		s := key
		if value != "" {
			s += "=" + value
		}
		if m["operator"] == "Exists" && key == "" {
			s = "(every taint)"
		}
		if effect != "" {
			s += ":" + effect
		}
		if secs, ok := m["tolerationSeconds"].(float64); ok {
			s += fmt.Sprintf(" for %gs", secs)
		}
		out = append(out, s)
	}
	return out
}

// stringMap reads an object of strings (node selector, a resource list);
// a value that is not a string (null: a variable without a default) is
// left out, another scalar written as JSON.
func stringMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	out := map[string]string{}
	for k, e := range m {
		switch x := e.(type) {
		case nil:
		case string:
			out[k] = x
		default:
			out[k] = compact(x)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// substitute puts the variables' defaults in v's placeholders, as the
// worker does: a string that is one placeholder becomes the default
// itself (null when it has none), one placeholder among other text the
// default as text.
func substitute(v any, defaults map[string]any) any {
	switch x := v.(type) {
	case string:
		if m := placeholder.FindStringSubmatch(x); m != nil && m[0] == strings.TrimSpace(x) {
			return defaults[m[1]]
		}
		return placeholder.ReplaceAllStringFunc(x, func(p string) string {
			d := defaults[placeholder.FindStringSubmatch(p)[1]]
			if s, ok := d.(string); ok {
				return s
			}
			if d == nil {
				return ""
			}
			return compact(d)
		})
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = substitute(e, defaults)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = substitute(e, defaults)
		}
		return out
	}
	return v
}

// compact is v as one line of JSON, without HTML escapes.
func compact(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
