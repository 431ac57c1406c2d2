package export

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// ref is a Kubernetes object a pool's jobs use.
type ref struct {
	pool           string
	kind, ns, name string
	dataKey        string // the Secret or ConfigMap key read, if one
}

func (r ref) key() state.Key {
	return state.Key{System: state.Kubernetes, Kind: r.kind, Namespace: r.ns, Name: r.name}
}

// builtinNamespaces exist in every cluster; the validator knows them.
var builtinNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true}

var placeholderRE = regexp.MustCompile(`^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$`)

// references lists what a live template's jobs use: their namespace, the
// service account, and the Secrets, ConfigMaps and PVCs of the pod spec.
// A value that is a {{ placeholder }} is read from its variable's default;
// one that embeds a placeholder in other text is left out.
func references(pool string, t map[string]any) []ref {
	if len(t) == 0 {
		return nil
	}
	jc, _ := t["job_configuration"].(map[string]any)
	vars, _ := t["variables"].(map[string]any)
	props, _ := vars["properties"].(map[string]any)
	resolve := func(v any) string {
		s, _ := v.(string)
		if m := placeholderRE.FindStringSubmatch(s); m != nil {
			prop, _ := props[m[1]].(map[string]any)
			d, _ := prop["default"].(string)
			return d
		}
		if strings.Contains(s, "{{") {
			return ""
		}
		return s
	}
	manifest, _ := jc["job_manifest"].(map[string]any)
	md, _ := manifest["metadata"].(map[string]any)
	ns := resolve(md["namespace"])
	if ns == "" {
		ns = resolve(jc["namespace"])
	}
	if ns == "" {
		ns = "default"
	}
	var out []ref
	add := func(kind, name, key string) {
		if name == "" {
			return
		}
		r := ref{pool: pool, kind: kind, ns: ns, name: name, dataKey: key}
		if kind == "Namespace" {
			r.ns = ""
		}
		out = append(out, r)
	}
	if !builtinNamespaces[ns] {
		add("Namespace", ns, "")
	}
	spec, _ := manifest["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	pod, _ := tmpl["spec"].(map[string]any)
	if sa := resolve(pod["serviceAccountName"]); sa != "" && sa != "default" {
		add("ServiceAccount", sa, "")
	}
	// The references, as in a pod spec; an optional one is left out, as
	// the pod starts without it. (corev1.PodSpec would not decode a
	// template's "{{ cpu_limit }}" quantities.)
	type keyRef struct {
		Name, Key string
		Optional  bool
	}
	type nameRef struct {
		Name     string
		Optional bool
	}
	var podSpec struct {
		Containers, InitContainers []struct {
			Env []struct {
				ValueFrom *struct {
					SecretKeyRef    *keyRef `json:"secretKeyRef"`
					ConfigMapKeyRef *keyRef `json:"configMapKeyRef"`
				} `json:"valueFrom"`
			} `json:"env"`
			EnvFrom []struct {
				SecretRef    *nameRef `json:"secretRef"`
				ConfigMapRef *nameRef `json:"configMapRef"`
			} `json:"envFrom"`
		}
		Volumes []struct {
			PersistentVolumeClaim *struct {
				ClaimName string `json:"claimName"`
			} `json:"persistentVolumeClaim"`
			Secret *struct {
				SecretName string `json:"secretName"`
				Optional   bool   `json:"optional"`
			} `json:"secret"`
			ConfigMap *nameRef `json:"configMap"`
		}
		ImagePullSecrets []nameRef `json:"imagePullSecrets"`
	}
	// A field that is a placeholder (env: "{{ env }}") does not decode:
	// decode each list on its own, without such fields.
	for field, dst := range map[string]any{"containers": &podSpec.Containers, "initContainers": &podSpec.InitContainers,
		"volumes": &podSpec.Volumes, "imagePullSecrets": &podSpec.ImagePullSecrets} {
		items, _ := pod[field].([]any)
		var kept []any
		for _, item := range items {
			m, _ := item.(map[string]any)
			c := map[string]any{}
			for k, v := range m {
				if _, isString := v.(string); isString && (k == "env" || k == "envFrom") {
					continue
				}
				c[k] = v
			}
			kept = append(kept, c)
		}
		raw, _ := json.Marshal(kept)
		_ = json.Unmarshal(raw, dst)
	}
	for _, c := range append(podSpec.InitContainers, podSpec.Containers...) {
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil && !r.Optional {
				add("Secret", resolve(r.Name), r.Key)
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil && !r.Optional {
				add("ConfigMap", resolve(r.Name), r.Key)
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil && !e.SecretRef.Optional {
				add("Secret", resolve(e.SecretRef.Name), "")
			}
			if e.ConfigMapRef != nil && !e.ConfigMapRef.Optional {
				add("ConfigMap", resolve(e.ConfigMapRef.Name), "")
			}
		}
	}
	for _, v := range podSpec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			add("PersistentVolumeClaim", resolve(v.PersistentVolumeClaim.ClaimName), "")
		case v.Secret != nil && !v.Secret.Optional:
			add("Secret", resolve(v.Secret.SecretName), "")
		case v.ConfigMap != nil && !v.ConfigMap.Optional:
			add("ConfigMap", resolve(v.ConfigMap.Name), "")
		}
	}
	for _, s := range podSpec.ImagePullSecrets {
		add("Secret", resolve(s.Name), "")
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].key().Less(out[j].key()) })
	return out
}
