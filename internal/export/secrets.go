package export

import (
	"fmt"
	"sort"
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/redact"
)

// Moved is a secret value of a live template that the file does not hold.
type Moved struct {
	Pool string
	// Name is the environment variable (or template variable) that holds
	// the value in the live template; Where says where it is.
	Name, Where string
	// Env is the environment variable that gives the value at sync time.
	Env string
	// Secret and Key are the Secret ("namespace/name") and key the job now
	// reads the value from; empty when the file holds ${Env} instead.
	Secret, Key string
}

// Warning says what happened to the value and what to do before syncing.
func (m Moved) Warning(poolType string) string {
	if m.Secret != "" {
		return fmt.Sprintf("work pool %q: the value of %s (%s) is a secret and is not in the file: the job reads it from Secret %q, key %s (kubernetes.secrets), which sync fills from the environment variable %s; set %s to the value before the first sync. Until that sync replaces it, the live template still holds the value in plain text",
			m.Pool, m.Name, m.Where, m.Secret, m.Key, m.Env, m.Env)
	}
	why := "its template cannot read a Kubernetes Secret there"
	if poolType != "kubernetes" {
		why = fmt.Sprintf("a %s pool's template cannot read a Kubernetes Secret", poolType)
	}
	w := fmt.Sprintf("work pool %q: the value of %s (%s) is a secret and is not in the file, which reads it from ${%s} (%s); set %s to the value before validate, diff or sync. The live template still holds the value in plain text, and so does the one each sync writes",
		m.Pool, m.Name, m.Where, m.Env, why, m.Env)
	for _, c := range config.CredentialVars {
		if m.Name == c {
			w += fmt.Sprintf("; validate refuses a plain %s in a pool's template: take the entry out of the file (a worker gives the flow runs it starts its own %s)", c, c)
		}
	}
	return w
}

// secretsOut is what keeping a live template's secrets out of the file
// gives: the template the file stands for, and the one it holds.
type secretsOut struct {
	// intended has Secret references in place of the values a Secret now
	// holds, and still the values that the file reads from ${VAR}: the
	// file, interpolated with those values, gives back intended.
	intended map[string]any
	// written is intended with ${VAR} in place of the remaining values.
	written map[string]any
	// refs are the paths in written of the ${VAR} references.
	refs  [][]string
	moved []Moved
	// secret is the Secret the moved values go to; nil when none.
	secret *config.Secret
	// values maps each ${VAR} to its live value, for Verify only.
	values map[string]string
}

// keepSecretsOut takes the secret values out of a pool's live template. A
// Kubernetes template's env values (the env variable's default and the
// containers' literal env entries) move to a Secret the file declares,
// secretName in the jobs' namespace; what is left becomes ${VAR}. used
// holds the environment variable names taken so far, and their values
// ("" for a Secret's).
func keepSecretsOut(pool, poolType string, t map[string]any, secretName string, used map[string]string) *secretsOut {
	out := &secretsOut{values: map[string]string{}}
	intended, err := normalize(t)
	m, _ := intended.(map[string]any)
	if err != nil || len(m) == 0 {
		out.intended, out.written = t, t
		return out
	}
	if poolType == "kubernetes" {
		out.toSecret(pool, m, secretName, used)
	}
	out.intended = m
	written, _ := normalize(m)
	out.written, _ = written.(map[string]any)
	r := &refWriter{pool: pool, used: used, out: out}
	r.walk(out.written, nil)
	if len(out.refs) == 0 {
		out.written = out.intended
	}
	return out
}

// toSecret moves the env values of a Kubernetes template to the Secret:
// each becomes a valueFrom.secretKeyRef entry of the container's env, with
// a null default in the env variable so that a worker's own value of that
// name cannot replace the reference.
func (o *secretsOut) toSecret(pool string, t map[string]any, secretName string, used map[string]string) {
	def, ctrs := envDefault(t), podContainers(t)
	if len(ctrs) == 0 {
		return
	}
	ns := templateNamespace(t)
	s := &config.Secret{Name: secretName, Namespace: ns, Keys: map[string]config.SecretSource{}}
	ref := func(name, where string) map[string]any {
		key := secretKey(name)
		if _, done := s.Keys[key]; !done {
			env := uniqueEnv(envName(pool, key), "", used)
			s.Keys[key] = config.SecretSource{FromEnv: env}
		}
		o.moved = append(o.moved, Moved{Pool: pool, Name: name, Where: where, Env: s.Keys[key].FromEnv, Secret: ns + "/" + secretName, Key: key})
		if def == nil {
			def = guardDefault(t)
		}
		if def != nil {
			def[name] = nil
		}
		return map[string]any{"name": name, "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": secretName, "key": key}}}
	}
	for _, c := range ctrs {
		list, _ := c.ctr["env"].([]any)
		for i, e := range list {
			entry, _ := e.(map[string]any)
			name, _ := entry["name"].(string)
			if v, ok := entry["value"].(string); ok && isValue(v) && entry["valueFrom"] == nil && redact.LooksSecret(name) {
				list[i] = ref(name, fmt.Sprintf("the job manifest's %s env entry", c.what))
			}
		}
	}
	first := ctrs[0].ctr
	if list, isList := first["env"].([]any); isList || first["env"] == nil {
		for _, name := range sortedNames(def) {
			if v, ok := def[name].(string); ok && isValue(v) && redact.LooksSecret(name) {
				list = replaceEnv(list, ref(name, "the env variable's default"))
			}
		}
		if len(list) > 0 {
			first["env"] = list
		}
	}
	if len(s.Keys) > 0 {
		o.secret = s
	}
}

// replaceEnv puts entry in list in place of the entry of the same name,
// or at its end.
func replaceEnv(list []any, entry map[string]any) []any {
	for i, e := range list {
		if m, _ := e.(map[string]any); m != nil && m["name"] == entry["name"] {
			list[i] = entry
			return list
		}
	}
	return append(list, entry)
}

// refWriter replaces the values left with ${VAR} references: in env
// objects (name → value), in env lists ({name, value} entries), and the
// default of a template variable with a secret-looking name.
type refWriter struct {
	pool string
	used map[string]string
	out  *secretsOut
}

func (r *refWriter) walk(v any, path []string) {
	switch t := v.(type) {
	case map[string]any:
		isEnv := len(path) > 0 && path[len(path)-1] == "env" ||
			len(path) > 1 && path[len(path)-2] == "env" && path[len(path)-1] == "default"
		for _, k := range sortedNames(t) {
			p := append(append([]string{}, path...), k)
			s, isStr := t[k].(string)
			isVarDefault := k == "default" && len(path) == 3 && path[0] == "variables" && path[1] == "properties" && redact.LooksSecret(path[2])
			switch {
			case isStr && isValue(s) && (isEnv && redact.LooksSecret(k) || isVarDefault):
				name := k
				if isVarDefault {
					name = path[2]
				}
				t[k] = r.ref(name, s, p)
			default:
				r.walk(t[k], p)
			}
		}
	case []any:
		parent := ""
		if len(path) > 0 {
			parent = path[len(path)-1]
		}
		for i, e := range t {
			p := append(append([]string{}, path...), fmt.Sprint(i))
			m, _ := e.(map[string]any)
			name, _ := m["name"].(string)
			if s, ok := m["value"].(string); ok && (parent == "env" || parent == "environment") && isValue(s) && redact.LooksSecret(name) {
				m["value"] = r.ref(name, s, append(p, "value"))
				continue
			}
			r.walk(e, p)
		}
	}
}

// ref records a value written as ${VAR} at path and returns the reference.
func (r *refWriter) ref(name, value string, path []string) string {
	env := uniqueEnv(envName(r.pool, name), value, r.used)
	r.out.values[env] = value
	r.out.refs = append(r.out.refs, path)
	where := "at " + strings.Join(path, ".")
	if strings.Join(path, ".") == "variables.properties.env.default."+name {
		where = "the env variable's default"
	}
	r.out.moved = append(r.out.moved, Moved{Pool: r.pool, Name: name, Where: where, Env: env})
	return "${" + env + "}"
}

// uniqueEnv returns env, or env with a number added when env is taken
// for another value (a Secret's key is taken for any: its variable may not
// be interpolated too), and records it.
func uniqueEnv(env, value string, used map[string]string) string {
	name := env
	for i := 2; ; i++ {
		v, taken := used[name]
		if !taken {
			break
		}
		if value != "" && v == value {
			return name
		}
		name = fmt.Sprintf("%s_%d", env, i)
	}
	used[name] = value
	return name
}

// isValue reports whether a template string is a value, not empty and not
// a {{ placeholder }} the worker fills in.
func isValue(s string) bool { return s != "" && !strings.Contains(s, "{{") }

// secretKey is a Secret key for an environment variable's name: the
// characters a key may not hold become _.
func secretKey(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c == '-' || c == '.' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b[i] = '_'
		}
	}
	return string(b)
}

// secretObjectName is the name of the Secret a pool's moved values go to:
// the pool's name as a DNS-1123 subdomain, and "-env".
func secretObjectName(pool string) string {
	return config.LabelName(pool, 200, "pool") + "-env"
}

// envDefault is the env variable's default of a template, nil when it has
// no object default.
func envDefault(t map[string]any) map[string]any {
	vars, _ := t["variables"].(map[string]any)
	props, _ := vars["properties"].(map[string]any)
	env, _ := props["env"].(map[string]any)
	def, _ := env["default"].(map[string]any)
	return def
}

// guardDefault gives the env variable an empty object default, and
// returns it; nil when the template has no env variable.
func guardDefault(t map[string]any) map[string]any {
	vars, _ := t["variables"].(map[string]any)
	props, _ := vars["properties"].(map[string]any)
	env, _ := props["env"].(map[string]any)
	if env == nil || env["default"] != nil {
		return nil
	}
	def := map[string]any{}
	env["default"] = def
	return def
}

type podContainer struct {
	ctr  map[string]any
	what string
}

// podContainers lists the containers, then the init containers, of a
// Kubernetes template's job manifest.
func podContainers(t map[string]any) []podContainer {
	jc, _ := t["job_configuration"].(map[string]any)
	manifest, _ := jc["job_manifest"].(map[string]any)
	spec, _ := manifest["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	pod, _ := tmpl["spec"].(map[string]any)
	var out []podContainer
	for _, field := range []string{"containers", "initContainers"} {
		list, _ := pod[field].([]any)
		for i, c := range list {
			if m, ok := c.(map[string]any); ok {
				what := fmt.Sprintf("%s[%d]", field, i)
				if n, _ := m["name"].(string); n != "" {
					what = fmt.Sprintf("%q container", n)
				}
				out = append(out, podContainer{ctr: m, what: what})
			}
		}
	}
	return out
}

func sortedNames(m map[string]any) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
