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
	resolve := resolver(t)
	ns := templateNamespace(t)
	jc, _ := t["job_configuration"].(map[string]any)
	manifest, _ := jc["job_manifest"].(map[string]any)
	refs := &refList{pool: pool, ns: ns, resolve: resolve}
	if !builtinNamespaces[ns] {
		refs.add("Namespace", ns, "")
	}
	spec, _ := manifest["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	pod, _ := tmpl["spec"].(map[string]any)
	if sa := resolve(pod["serviceAccountName"]); sa != "" && sa != "default" {
		refs.add("ServiceAccount", sa, "")
	}
	refs.addPod(decodePod(pod))
	sort.SliceStable(refs.out, func(i, j int) bool { return refs.out[i].key().Less(refs.out[j].key()) })
	return refs.out
}

// resolver returns what a template value is: a {{ placeholder }} is read
// from its variable's default, a value that embeds a placeholder in other
// text is "".
func resolver(t map[string]any) func(any) string {
	vars, _ := t["variables"].(map[string]any)
	props, _ := vars["properties"].(map[string]any)
	return func(v any) string {
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
}

// templateNamespace is the namespace a template's jobs run in: the job
// manifest's, else the job configuration's, else "default".
func templateNamespace(t map[string]any) string {
	resolve := resolver(t)
	jc, _ := t["job_configuration"].(map[string]any)
	manifest, _ := jc["job_manifest"].(map[string]any)
	md, _ := manifest["metadata"].(map[string]any)
	ns := resolve(md["namespace"])
	if ns == "" {
		ns = resolve(jc["namespace"])
	}
	if ns == "" {
		ns = "default"
	}
	return ns
}

// refList collects the references of one pool's jobs, in one namespace.
type refList struct {
	pool, ns string
	resolve  func(any) string
	out      []ref
}

func (l *refList) add(kind, name, key string) {
	if name == "" {
		return
	}
	r := ref{pool: l.pool, kind: kind, ns: l.ns, name: name, dataKey: key}
	if kind == "Namespace" {
		r.ns = ""
	}
	l.out = append(l.out, r)
}

// The references, as in a pod spec; an optional one is left out, as the
// pod starts without it. (corev1.PodSpec would not decode a template's
// "{{ cpu_limit }}" quantities.)
type (
	keyRef struct {
		Name, Key string
		Optional  bool
	}
	nameRef struct {
		Name     string
		Optional bool
	}
	podRefs struct {
		Containers, InitContainers []containerRefs
		Volumes                    []volumeRefs
		ImagePullSecrets           []nameRef `json:"imagePullSecrets"`
	}
	containerRefs struct {
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
	volumeRefs struct {
		PersistentVolumeClaim *struct {
			ClaimName string `json:"claimName"`
		} `json:"persistentVolumeClaim"`
		Secret *struct {
			SecretName string `json:"secretName"`
			Optional   bool   `json:"optional"`
		} `json:"secret"`
		ConfigMap *nameRef `json:"configMap"`
	}
)

// decodePod reads the references of a template's pod spec. A field that
// is a placeholder (env: "{{ env }}") does not decode: each list is
// decoded on its own, without such fields.
func decodePod(pod map[string]any) podRefs {
	var p podRefs
	for field, dst := range map[string]any{"containers": &p.Containers, "initContainers": &p.InitContainers,
		"volumes": &p.Volumes, "imagePullSecrets": &p.ImagePullSecrets} {
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
	return p
}

// addPod adds what the containers, volumes and image pull secrets use.
func (l *refList) addPod(p podRefs) {
	for _, c := range append(p.InitContainers, p.Containers...) {
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil && !r.Optional {
				l.add("Secret", l.resolve(r.Name), r.Key)
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil && !r.Optional {
				l.add("ConfigMap", l.resolve(r.Name), r.Key)
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil && !e.SecretRef.Optional {
				l.add("Secret", l.resolve(e.SecretRef.Name), "")
			}
			if e.ConfigMapRef != nil && !e.ConfigMapRef.Optional {
				l.add("ConfigMap", l.resolve(e.ConfigMapRef.Name), "")
			}
		}
	}
	for _, v := range p.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			l.add("PersistentVolumeClaim", l.resolve(v.PersistentVolumeClaim.ClaimName), "")
		case v.Secret != nil && !v.Secret.Optional:
			l.add("Secret", l.resolve(v.Secret.SecretName), "")
		case v.ConfigMap != nil && !v.ConfigMap.Optional:
			l.add("ConfigMap", l.resolve(v.ConfigMap.Name), "")
		}
	}
	for _, s := range p.ImagePullSecrets {
		l.add("Secret", l.resolve(s.Name), "")
	}
}
