package config

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// CredentialVars are the environment variables that hold prefect-apply's
// own Prefect credential. A job that needs one reads it from a Secret.
var CredentialVars = []string{"PREFECT_API_AUTH_STRING", "PREFECT_API_KEY"}

func isCredentialVar(name string) bool {
	for _, v := range CredentialVars {
		if name == v {
			return true
		}
	}
	return false
}

// secretVar is an environment variable that holds a secret: a Prefect
// credential, or a variable a Secret of the file reads with fromEnv.
type secretVar struct {
	// at is the fromEnv that names it, nil for a credential no Secret reads.
	at          Path
	secret, key string // the Secret and key that read it, if any
}

// secretSources finds, in the YAML tree, what the file's own Secrets read
// (kubernetes.secrets[].keys.*.fromEnv and fromFile), before anything is
// interpolated: those variables are secrets by the file's own account.
// It reads the tree as written and stops at nothing: a malformed section
// is reported by Validate, here it only yields fewer names.
func secretSources(top *yaml.Node) (vars map[string]secretVar, files []string) {
	vars = map[string]secretVar{}
	get := func(n *yaml.Node, tok string) *yaml.Node {
		if n == nil {
			return nil
		}
		_, v := child(deref(n), tok, 0)
		if v == nil {
			return nil
		}
		return deref(v)
	}
	secrets := get(get(top, "kubernetes"), "secrets")
	if secrets != nil && secrets.Kind == yaml.SequenceNode {
		for i, s := range secrets.Content {
			s = deref(s)
			name := ""
			if n := get(s, "name"); n != nil && n.Kind == yaml.ScalarNode {
				name = n.Value
			}
			keys := get(s, "keys")
			for _, key := range mappingKeys(keys, 0) {
				src := get(keys, key)
				if v := get(src, "fromEnv"); v != nil && v.Kind == yaml.ScalarNode && v.Value != "" {
					if _, seen := vars[v.Value]; !seen {
						vars[v.Value] = secretVar{at: Path{"kubernetes", "secrets", strconv.Itoa(i), "keys", key, "fromEnv"}, secret: name, key: key}
					}
				}
				if v := get(src, "fromFile"); v != nil && v.Kind == yaml.ScalarNode && v.Value != "" {
					files = append(files, v.Value)
				}
			}
		}
	}
	for _, name := range CredentialVars {
		if _, ok := vars[name]; !ok {
			vars[name] = secretVar{}
		}
	}
	return vars, files
}

// mappingKeys lists the keys of a mapping, merged ones included, sorted.
func mappingKeys(n *yaml.Node, merges int) []string {
	if n == nil || n.Kind != yaml.MappingNode || merges > maxMergeDepth {
		return nil
	}
	set := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Tag == "!!merge" {
			m := deref(n.Content[i+1])
			srcs := []*yaml.Node{m}
			if m.Kind == yaml.SequenceNode {
				srcs = m.Content
			}
			for _, s := range srcs {
				for _, key := range mappingKeys(deref(s), merges+1) {
					set[key] = true
				}
			}
			continue
		}
		if k.Kind == yaml.ScalarNode {
			set[k.Value] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// SecretSources returns what the file's Secrets read their values from:
// the environment variables named by fromEnv, and the files named by
// fromFile as written (relative to the file's folder). Callers mask those
// values in everything they print. Known even for a file with problems.
func (d *Document) SecretSources() (env, files []string) {
	for name, v := range d.secretVars {
		if v.at != nil {
			env = append(env, name)
		}
	}
	sort.Strings(env)
	return env, append([]string(nil), d.secretFiles...)
}

// refuseSecret is the problem with ${name} at path when name holds a
// secret, nil otherwise. Interpolating it would put the value in plain
// text wherever the field goes: the pool's base job template (readable by
// anyone who can read the pool), a ConfigMap, the plan.
func (c *converter) refuseSecret(path Path) func(string) *InterpolationError {
	return func(name string) *InterpolationError {
		v, ok := c.doc.secretVars[name]
		if !ok {
			return nil
		}
		var why []string
		if isCredentialVar(name) {
			why = append(why, "the Prefect credential")
		}
		if v.at != nil {
			why = append(why, fmt.Sprintf("%s reads it with fromEnv", v.at[:len(v.at)-1]))
		}
		return &InterpolationError{
			Message: fmt.Sprintf("${%s} is a secret (%s): interpolated here, its value would be shown in plans and stored in plain text wherever this field goes", name, strings.Join(why, "; ")),
			Hint:    secretHint(path, name, v.secret, v.key),
		}
	}
}

// secretHint says how to give a job a secret: through a Secret the file
// declares, referenced with valueFrom.secretKeyRef.
func secretHint(path Path, env, secret, key string) string {
	ref := hintRef(secret, key)
	declare := ""
	if secret == "" {
		declare = fmt.Sprintf("declare a Secret under kubernetes.secrets that reads it (keys: {KEY: {fromEnv: %s}}), then ", env)
	}
	if isEnvValue(path) {
		return declare + "replace value with " + ref
	}
	return declare + "give the job its value with an env entry in jobTemplate.env that uses " + ref +
		"; it does not belong in this field (write $${" + env + "} for the literal text)"
}

// isEnvValue reports whether path is the value of an env entry of a job
// template: pools[i].jobTemplate.env[j].value.
func isEnvValue(p Path) bool {
	n := len(p)
	return n == 6 && p[0] == "pools" && p[2] == "jobTemplate" && p[3] == "env" && p[5] == "value"
}

// credentialValues reports env entries that give PREFECT_API_AUTH_STRING or
// PREFECT_API_KEY a plain value: jobTemplate.env, and in a baseJobTemplate
// the `env` variable's default and the job manifest's containers. A known
// runbook mistake: the credential then sits in the pool's base job
// template, readable by anyone who can read the pool, and in every plan.
func (c *checker) credentialValues(path Path, p *Pool) {
	report := func(at Path, name string) {
		secret, key := c.secretReading(name)
		hint := secretHint(at, name, secret, key)
		if !isEnvValue(at) {
			hint = "read it from a Secret: an env entry with " + hintRef(secret, key) + " in the job manifest's container, and a null default for it in the env variable"
			if secret == "" {
				hint = fmt.Sprintf("declare a Secret under kubernetes.secrets that reads it (keys: {KEY: {fromEnv: %s}}), then ", name) + hint
			}
		}
		c.add(at, "%s is a credential: a plain value would be stored in the pool's base job template, where anyone who can read the pool reads it, and shown in every plan", name).Hint = hint
	}
	if t := p.JobTemplate; t != nil {
		for i, e := range t.Env {
			if isCredentialVar(e.Name) && e.Value != "" {
				report(path.Child("jobTemplate", "env", strconv.Itoa(i), "value"), e.Name)
			}
		}
	}
	t := p.BaseJobTemplate
	if t == nil {
		return
	}
	bp := path.Child("baseJobTemplate")
	props, _ := t.Variables["properties"].(map[string]any)
	envVar, _ := props["env"].(map[string]any)
	if def, ok := envVar["default"].(map[string]any); ok {
		for _, name := range CredentialVars {
			if v, ok := def[name].(string); ok && v != "" {
				report(bp.Child("variables", "properties", "env", "default", name), name)
			}
		}
	}
	manifest, _ := t.JobConfiguration["job_manifest"].(map[string]any)
	for i, ctr := range containers(manifest) {
		env, _ := ctr["env"].([]any)
		for j, e := range env {
			m, _ := e.(map[string]any)
			name, _ := m["name"].(string)
			if v, ok := m["value"].(string); ok && v != "" && isCredentialVar(name) {
				report(bp.Child("job_configuration", "job_manifest", "spec", "template", "spec", "containers", strconv.Itoa(i), "env", strconv.Itoa(j), "value"), name)
			}
		}
	}
}

func hintRef(secret, key string) string {
	if secret == "" {
		return "valueFrom: {secretKeyRef: {name: SECRET, key: KEY}}"
	}
	return fmt.Sprintf("valueFrom: {secretKeyRef: {name: %s, key: %s}}", secret, key)
}

// secretReading names a Secret of the file, and its key, that reads the
// environment variable env with fromEnv; "" when none does.
func (c *checker) secretReading(env string) (secret, key string) {
	if c.f.Kubernetes == nil {
		return "", ""
	}
	for _, s := range c.f.Kubernetes.Secrets {
		for _, k := range slices.Sorted(maps.Keys(s.Keys)) {
			if s.Keys[k].FromEnv == env {
				return s.Name, k
			}
		}
	}
	return "", ""
}
