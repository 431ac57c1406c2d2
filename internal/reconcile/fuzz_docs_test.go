package reconcile_test

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// The random but valid documents of the pipeline fuzzing
// (fuzz_pipeline_test.go).

// --- random documents ------------------------------------------------------

var (
	fuzzPoolNames  = []string{"cpu", "gpu tasks #1", "mém-intensive", "io?batch", "zeta"}
	fuzzQueueNames = []string{"default", "urgent", "batch", "low prio", "ünïcode"}
)

// text is a string for the file, what interpolation must make of it, and
// the variables it needs.
type text struct{ raw, want string }

// interpolated returns a random string using ${VAR}, ${VAR:-default}, $$
// and lone $ signs, with the environment it needs and what it expands to.
func interpolated(r *rand.Rand, env map[string]string, parts ...string) text {
	var t text
	for _, p := range parts {
		switch r.Intn(7) {
		case 0: // a set variable
			name := "V_" + strings.Map(func(c rune) rune {
				if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
					return c
				}
				return '_'
			}, strings.ToUpper(p))
			if _, ok := env[name]; !ok {
				env[name] = p
			}
			t.raw += "${" + name + "}"
			t.want += env[name]
		case 1: // an unset variable with a default
			t.raw += "${UNSET_" + strconv.Itoa(r.Intn(3)) + ":-" + p + "}"
			t.want += p
		case 2: // an empty variable with a default
			env["EMPTY"] = ""
			t.raw += "${EMPTY:-" + p + "}"
			t.want += p
		case 3: // an escaped dollar
			t.raw += "$${" + p + "}"
			t.want += "${" + p + "}"
		case 4: // a lone dollar stays
			t.raw += "$" + p
			t.want += "$" + p
		default:
			t.raw += p
			t.want += p
		}
	}
	return t
}

type genFile struct {
	r       *rand.Rand
	env     map[string]string
	files   map[string]string
	want    map[string]poolExpect
	ns      string // kubernetes.namespace
	known   map[string]bool
	secrets map[string][]string // secret name in ns → keys
}

// genDocument returns a random valid pools.yaml.
func genDocument(r *rand.Rand) *fuzzRun {
	g := &genFile{r: r, env: map[string]string{}, files: map[string]string{}, want: map[string]poolExpect{},
		known: map[string]bool{}, secrets: map[string][]string{}}
	doc := map[string]any{}
	switch r.Intn(3) {
	case 0:
		doc["set"] = fuzzSet
	case 1:
		doc["set"] = "${SET:-" + fuzzSet + "}"
	default:
		g.env["SET"] = fuzzSet
		doc["set"] = "${SET}"
	}
	g.ns = "prefect"
	k8s := map[string]any{}
	if r.Intn(2) == 0 {
		k8s["namespace"] = "prefect"
	} else {
		k8s["namespace"] = "${NAMESPACE:-prefect}"
	}
	var resources []any
	add := func(kind, ns, name string, obj map[string]any) {
		md := map[string]any{"name": name}
		if ns != "" && ns != g.ns || ns != "" && r.Intn(2) == 0 {
			md["namespace"] = ns
		}
		if r.Intn(3) == 0 {
			md["labels"] = map[string]any{"team": interpolated(r, g.env, "data").raw}
		}
		obj["kind"] = kind
		obj["metadata"] = md
		resources = append(resources, obj)
		g.known[kind+"/"+ns+"/"+name] = true
	}
	if r.Intn(5) > 0 {
		add("Namespace", "", "prefect", map[string]any{"apiVersion": "v1"})
	}
	if r.Intn(3) == 0 {
		add("Namespace", "", "batch-jobs", map[string]any{"apiVersion": "v1"})
	}
	if r.Intn(4) > 0 {
		add("ServiceAccount", "prefect", "prefect-worker", map[string]any{"apiVersion": "v1"})
	}
	if g.known["Namespace//batch-jobs"] && r.Intn(2) == 0 {
		add("ServiceAccount", "batch-jobs", "prefect-worker", map[string]any{"apiVersion": "v1"})
	}
	if r.Intn(2) == 0 {
		verbs := pick(r, []any{"get", "list", "watch"}, []any{"get", "list", "watch", "create", "delete"})
		add("ClusterRole", "", "prefect-worker-role", map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1",
			"rules": []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"pods", "pods/log"}, "verbs": verbs},
				map[string]any{"apiGroups": []any{"batch"}, "resources": []any{"jobs"}, "verbs": []any{"get", "create"}}}})
		if g.known["ServiceAccount/prefect/prefect-worker"] && r.Intn(3) > 0 {
			add("ClusterRoleBinding", "", "prefect-worker-binding", map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1",
				"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "prefect-worker-role"},
				"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "prefect-worker", "namespace": "prefect"}}})
		}
	}
	if r.Intn(3) == 0 {
		add("Role", "prefect", "job-reader", map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1",
			"rules": []any{map[string]any{"apiGroups": []any{"batch"}, "resources": []any{"jobs"}, "verbs": []any{"get"}}}})
		if g.known["ServiceAccount/prefect/prefect-worker"] {
			add("RoleBinding", "prefect", "job-reader", map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1",
				"roleRef":  map[string]any{"kind": "Role", "name": "job-reader", "apiGroup": "rbac.authorization.k8s.io"},
				"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "prefect-worker"}}})
		}
	}
	if r.Intn(2) == 0 {
		add("ConfigMap", "prefect", "settings", map[string]any{"apiVersion": "v1",
			"data": map[string]any{"mode": pick(r, "fast", "safe"), "url": interpolated(r, g.env, "https://", "prefect.example", "/api").raw}})
	}
	if r.Intn(2) == 0 {
		add("PersistentVolumeClaim", "prefect", "shared-data", map[string]any{"apiVersion": "v1",
			"spec": map[string]any{"accessModes": []any{"ReadWriteOnce"}, "resources": map[string]any{"requests": map[string]any{"storage": pick(r, "1Gi", "10Gi")}}}})
	}
	if r.Intn(2) == 0 {
		keys := map[string]any{"auth-string": map[string]any{"fromEnv": "PREFECT_API_AUTH_STRING"}}
		g.env["PREFECT_API_AUTH_STRING"] = pick(r, "admin:one", "admin:two", "admin:thr€e")
		g.secrets["prefect-basic-auth"] = []string{"auth-string"}
		if r.Intn(2) == 0 {
			keys["token"] = map[string]any{"fromFile": "token.txt"}
			g.files["token.txt"] = pick(r, "t1\n", "t2", "")
			g.secrets["prefect-basic-auth"] = append(g.secrets["prefect-basic-auth"], "token")
		}
		sec := map[string]any{"name": "prefect-basic-auth", "keys": keys}
		if r.Intn(2) == 0 {
			sec["labels"] = map[string]any{"team": "data"}
		}
		k8s["secrets"] = []any{sec}
		g.known["Secret/prefect/prefect-basic-auth"] = true
	}
	if r.Intn(6) == 0 {
		k8s["external"] = []any{map[string]any{"kind": "Secret", "name": "registry-creds"}}
		g.known["Secret/prefect/registry-creds"] = true
	}
	// Objects in a namespace need the namespace declared.
	for k := range g.known {
		if strings.Contains(k, "/prefect/") && !g.known["Namespace//prefect"] {
			add("Namespace", "", "prefect", map[string]any{"apiVersion": "v1"})
		}
	}
	if len(resources) > 0 {
		k8s["resources"] = resources
	}
	if len(k8s) > 1 || r.Intn(2) == 0 {
		doc["kubernetes"] = k8s
	}
	if doc["kubernetes"] == nil {
		g.known = map[string]bool{}
		g.secrets = map[string][]string{}
		g.ns = "default"
	}

	names := append([]string(nil), fuzzPoolNames...)
	r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	var pools []any
	for _, name := range names[:1+r.Intn(len(names))] {
		pools = append(pools, g.pool(name))
	}
	doc["pools"] = pools

	var node yaml.Node
	if err := node.Encode(doc); err != nil {
		panic(err)
	}
	g.anchors(&node)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&node); err != nil {
		panic(err)
	}
	return &fuzzRun{yaml: buf.String(), env: g.env, want: g.want, prune: r.Intn(2) == 0, adopt: r.Intn(2) == 0,
		skipK8s: r.Intn(8) == 0, dir: writeFiles(g.files)}
}

// writeFiles puts fromFile sources in a temporary folder.
func writeFiles(files map[string]string) string {
	if len(files) == 0 {
		return ""
	}
	dir, err := os.MkdirTemp("", "fuzz-pipeline-")
	if err != nil {
		panic(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			panic(err)
		}
	}
	return dir
}

func (g *genFile) pool(name string) map[string]any {
	r := g.r
	p := map[string]any{"name": name}
	exp := poolExpect{}
	switch r.Intn(6) {
	case 0:
		p["type"] = "process"
	case 1:
		p["type"] = "docker"
		img := interpolated(r, g.env, "repo/flows", ":", "2")
		p["baseJobTemplate"] = map[string]any{
			"job_configuration": map[string]any{"image": "{{ image }}", "command": "{{ command }}", "env": map[string]any{"MODE": "raw"}},
			"variables": map[string]any{"type": "object", "properties": map[string]any{
				"image":   map[string]any{"type": "string", "default": img.raw},
				"command": map[string]any{"type": "string"},
			}},
		}
		exp.image = img.want
	default:
		p["type"] = "kubernetes"
		if r.Intn(5) > 0 {
			p["jobTemplate"] = g.jobTemplate(&exp)
		} else {
			exp.namespace = g.ns
		}
	}
	if r.Intn(3) > 0 {
		d := interpolated(r, g.env, "flows for ", "team", " and more")
		p["description"] = d.raw
		exp.description = &d.want
	}
	if r.Intn(2) == 0 {
		p["paused"] = r.Intn(3) == 0
	}
	if r.Intn(2) == 0 {
		p["concurrencyLimit"] = r.Intn(5)
	}
	names := append([]string(nil), fuzzQueueNames...)
	r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	prios := r.Perm(len(names) + 2)
	var queues []any
	for i, qn := range names[:r.Intn(len(names)+1)] {
		q := map[string]any{"name": qn}
		if r.Intn(4) > 0 {
			q["priority"] = prios[i] + 1
		}
		if r.Intn(3) == 0 {
			q["description"] = interpolated(r, g.env, "queue ", qn).raw
		}
		if r.Intn(3) == 0 {
			q["paused"] = r.Intn(2) == 0
		}
		if r.Intn(3) == 0 {
			q["concurrencyLimit"] = r.Intn(3)
		}
		queues = append(queues, q)
	}
	if len(queues) > 0 {
		p["queues"] = queues
	}
	g.want[name] = exp
	return p
}

func (g *genFile) jobTemplate(exp *poolExpect) map[string]any {
	r := g.r
	jt := map[string]any{}
	ns := g.ns
	if g.known["Namespace//batch-jobs"] && r.Intn(3) == 0 {
		ns = "batch-jobs"
		jt["namespace"] = ns
	}
	exp.namespace = ns
	if !g.known["Namespace//"+ns] {
		// A job namespace must be declared: fall back to "default".
		ns = "default"
		jt["namespace"] = ns
		exp.namespace = ns
	}
	if r.Intn(4) > 0 {
		img := interpolated(r, g.env, "gbifnorway/prefect-automations", ":", "latest")
		jt["image"] = img.raw
		exp.image = img.want
	}
	if r.Intn(3) == 0 {
		jt["imagePullPolicy"] = pick(r, "Always", "IfNotPresent", "Never")
	}
	if g.known["ServiceAccount/"+ns+"/prefect-worker"] && r.Intn(3) > 0 {
		jt["serviceAccountName"] = "prefect-worker"
	} else if r.Intn(4) == 0 {
		jt["serviceAccountName"] = "default"
	}
	if r.Intn(4) == 0 {
		jt["command"] = "python -m flows.run"
	}
	var env []any
	if r.Intn(2) == 0 {
		env = append(env, map[string]any{"name": "PREFECT_API_URL", "value": interpolated(r, g.env, "https://", "prefect.example", "/api").raw})
	}
	if keys := g.secrets["prefect-basic-auth"]; ns == g.ns && len(keys) > 0 && r.Intn(3) > 0 {
		env = append(env, map[string]any{"name": "PREFECT_API_AUTH_STRING",
			"valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "prefect-basic-auth", "key": pick(r, keys...)}}})
	}
	if g.known["ConfigMap/"+ns+"/settings"] && r.Intn(2) == 0 {
		env = append(env, map[string]any{"name": "MODE", "valueFrom": map[string]any{"configMapKeyRef": map[string]any{"name": "settings", "key": "mode"}}})
	}
	if r.Intn(3) == 0 {
		env = append(env, map[string]any{"name": "PRICE", "value": interpolated(r, g.env, "costs ", "5").raw})
	}
	if len(env) > 0 {
		jt["env"] = env
	}
	if r.Intn(2) == 0 {
		res := map[string]any{"requests": map[string]any{"cpu": pick(r, "500m", "1", "1000m", "0.5"), "memory": pick(r, "1Gi", "1024Mi", "512M")}}
		if r.Intn(2) == 0 {
			res["limits"] = map[string]any{"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}
		}
		jt["resources"] = res
	}
	if g.known["PersistentVolumeClaim/"+ns+"/shared-data"] && r.Intn(2) == 0 {
		jt["volumes"] = []any{map[string]any{"name": "data", "persistentVolumeClaim": map[string]any{"claimName": "shared-data"}}}
		jt["volumeMounts"] = []any{map[string]any{"name": "data", "mountPath": "/data"}}
	}
	if r.Intn(3) == 0 {
		jt["nodeSelector"] = map[string]any{"nvidia.com/gpu.present": "true"}
		jt["tolerations"] = []any{map[string]any{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}}
	}
	if r.Intn(3) == 0 {
		jt["labels"] = map[string]any{"team": "data", "cost-center": interpolated(r, g.env, "cc", "-42").raw}
	}
	if r.Intn(4) == 0 {
		jt["annotations"] = map[string]any{"example.com/owner": "data-team"}
	}
	if r.Intn(2) == 0 {
		jt["finishedJobTTL"] = pick(r, 60, 3600)
	}
	if r.Intn(3) == 0 {
		jt["backoffLimit"] = r.Intn(4)
	}
	if r.Intn(4) == 0 {
		jt["streamOutput"] = r.Intn(2) == 0
	}
	if r.Intn(4) == 0 {
		jt["jobWatchTimeoutSeconds"] = 600
		jt["podWatchTimeoutSeconds"] = 60
	}
	return jt
}

// anchors rewrites some pools' jobTemplate as `<<: *anchor` of the first
// kubernetes pool's, with an image of their own, as the example does.
func (g *genFile) anchors(root *yaml.Node) {
	doc := root
	if doc.Kind == yaml.DocumentNode {
		doc = doc.Content[0]
	}
	pools := mapValue(doc, "pools")
	if pools == nil {
		return
	}
	var first *yaml.Node
	for _, p := range pools.Content {
		jt := mapValue(p, "jobTemplate")
		if jt == nil {
			continue
		}
		if first == nil {
			first = jt
			continue
		}
		if g.r.Intn(2) == 0 {
			continue
		}
		first.Anchor = "shared"
		name := mapValue(p, "name").Value
		img := "merged/" + strings.NewReplacer(" ", "-", "#", "", "?", "").Replace(strings.ToLower(name)) + ":1"
		merged := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Value: "<<"},
			{Kind: yaml.AliasNode, Alias: first, Value: "shared"},
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: "image"},
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: img},
		}}
		setMapValue(p, "jobTemplate", merged)
		exp := g.want[name]
		exp.image = img
		exp.namespace = g.want[mapValue(firstPool(pools, first), "name").Value].namespace
		g.want[name] = exp
	}
}

func firstPool(pools, jt *yaml.Node) *yaml.Node {
	for _, p := range pools.Content {
		if mapValue(p, "jobTemplate") == jt {
			return p
		}
	}
	return nil
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setMapValue(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
		}
	}
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
