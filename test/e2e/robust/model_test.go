package robust

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// model is a pools.yaml the tests generate, and what the servers must hold
// once it is applied.
type model struct {
	set string
	// namespace is kubernetes.namespace; declared as a Namespace object
	// unless external.
	namespace string
	external  bool
	objects   []objSpec
	pools     []poolSpec
	// secretEnv names the environment variable the Secret's value comes
	// from, when the model has a Secret.
	secretEnv string
}

type objSpec struct {
	kind, name string
	data       map[string]string // ConfigMap data
	// manifest is the YAML body after kind and metadata (indented by the
	// caller), e.g. rules or roleRef and subjects.
	body string
}

type poolSpec struct {
	name, typ, desc string
	limit           int
	// sa, for a kubernetes pool, is the service account of its jobs.
	sa     string
	queues []queueSpec
}

type queueSpec struct {
	name, desc  string
	prio, limit int
}

// q quotes a string for YAML (a JSON string is a YAML double-quoted
// scalar, escapes included).
func q(s string) string {
	raw, _ := json.Marshal(s)
	return string(raw)
}

func (m model) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "set: %s\n", m.set)
	if m.namespace != "" || len(m.objects) > 0 {
		fmt.Fprintf(&b, "kubernetes:\n  namespace: %s\n", m.namespace)
		if m.external {
			fmt.Fprintf(&b, "  external:\n    - {kind: Namespace, name: %s}\n", m.namespace)
		}
		var secrets []objSpec
		var res strings.Builder
		if !m.external {
			fmt.Fprintf(&res, "    - apiVersion: v1\n      kind: Namespace\n      metadata: {name: %s}\n", m.namespace)
		}
		for _, o := range m.objects {
			if o.kind == "Secret" {
				secrets = append(secrets, o)
				continue
			}
			fmt.Fprintf(&res, "    - apiVersion: %s\n      kind: %s\n      metadata: {name: %s}\n", apiVersion(o.kind), o.kind, o.name)
			if len(o.data) > 0 {
				res.WriteString("      data:\n")
				for _, k := range slices.Sorted(maps.Keys(o.data)) {
					fmt.Fprintf(&res, "        %s: %s\n", k, q(o.data[k]))
				}
			}
			if o.body != "" {
				for _, l := range strings.Split(strings.TrimRight(o.body, "\n"), "\n") {
					res.WriteString("      " + l + "\n")
				}
			}
		}
		if res.Len() > 0 {
			b.WriteString("  resources:\n" + res.String())
		}
		if len(secrets) > 0 {
			b.WriteString("  secrets:\n")
			for _, s := range secrets {
				fmt.Fprintf(&b, "    - name: %s\n      keys:\n        token: {fromEnv: %s}\n", s.name, m.secretEnv)
			}
		}
	}
	if len(m.pools) == 0 {
		b.WriteString("pools: []\n")
		return b.String()
	}
	b.WriteString("pools:\n")
	for _, p := range m.pools {
		fmt.Fprintf(&b, "  - name: %s\n    type: %s\n    description: %s\n    concurrencyLimit: %d\n", q(p.name), p.typ, q(p.desc), p.limit)
		if p.sa != "" {
			fmt.Fprintf(&b, "    jobTemplate:\n      image: busybox:1.36\n      serviceAccountName: %s\n", p.sa)
		}
		if len(p.queues) > 0 {
			b.WriteString("    queues:\n")
		}
		for _, qu := range p.queues {
			fmt.Fprintf(&b, "      - name: %s\n        priority: %d\n        description: %s\n", q(qu.name), qu.prio, q(qu.desc))
			if qu.limit > 0 {
				fmt.Fprintf(&b, "        concurrencyLimit: %d\n", qu.limit)
			}
		}
	}
	return b.String()
}

func apiVersion(kind string) string {
	if g := kinds[kind].Group; g != "" {
		return g + "/v1"
	}
	return "v1"
}

// objKey is the key of a declared object.
func (m model) objKey(o objSpec) state.Key {
	ns := m.namespace
	if o.kind == "ClusterRole" || o.kind == "ClusterRoleBinding" || o.kind == "Namespace" {
		ns = ""
	}
	return kubeKey(o.kind, ns, o.name)
}

// keys lists every object the file declares.
func (m model) keys() []state.Key {
	var out []state.Key
	if m.namespace != "" && !m.external {
		out = append(out, kubeKey("Namespace", "", m.namespace))
	}
	for _, o := range m.objects {
		out = append(out, m.objKey(o))
	}
	for _, p := range m.pools {
		out = append(out, state.PoolKey(p.name))
		for _, qu := range p.queues {
			out = append(out, state.QueueKey(p.name, qu.name))
		}
	}
	state.SortKeys(out)
	return out
}

// bigModel is a file with many pools and queues and Kubernetes objects of
// every kind the tool manages: enough changes that a sync with
// --concurrency 1 takes seconds.
func bigModel(set, prefix string, pools int) model {
	m := model{set: set, namespace: prefix + "ns", secretEnv: "ROBUST_TOKEN"}
	m.objects = bigObjects(m.namespace, prefix, pools)
	m.pools = bigPools(set, prefix, pools)
	return m
}

// bigObjects are a service account and a ConfigMap per pool, and one
// object of every other kind; names start with prefix.
func bigObjects(namespace, prefix string, pools int) []objSpec {
	var out []objSpec
	role := "rules:\n  - {apiGroups: [\"\"], resources: [pods], verbs: [get, list]}\n"
	for i := 0; i < pools; i++ {
		out = append(out,
			objSpec{kind: "ServiceAccount", name: fmt.Sprintf("%ssa-%d", prefix, i)},
			objSpec{kind: "ConfigMap", name: fmt.Sprintf("%scm-%d", prefix, i), data: map[string]string{"index": fmt.Sprint(i), "pool": fmt.Sprintf("%spool-%d", prefix, i)}},
		)
	}
	subject := "subjects:\n  - {kind: ServiceAccount, name: " + prefix + "sa-0, namespace: " + namespace + "}\n"
	return append(out,
		objSpec{kind: "Role", name: prefix + "jobs", body: role},
		objSpec{kind: "RoleBinding", name: prefix + "jobs", body: "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: " + prefix + "jobs}\n" + subject},
		objSpec{kind: "ClusterRole", name: prefix + "read", body: role},
		objSpec{kind: "ClusterRoleBinding", name: prefix + "read", body: "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: " + prefix + "read}\n" + subject},
		objSpec{kind: "PersistentVolumeClaim", name: prefix + "data", body: "spec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n"},
		objSpec{kind: "Secret", name: prefix + "token"},
	)
}

// bigPools are pools of both types, each with three queues (its default
// among them); every third pool is a kubernetes pool whose jobs run as one
// of bigObjects' service accounts.
func bigPools(set, prefix string, n int) []poolSpec {
	var out []poolSpec
	for i := 0; i < n; i++ {
		p := poolSpec{name: fmt.Sprintf("%spool-%d", prefix, i), typ: "process", desc: fmt.Sprintf("pool %d of %s", i, set), limit: i%5 + 1}
		if i%3 == 0 {
			p.typ, p.sa = "kubernetes", fmt.Sprintf("%ssa-%d", prefix, i)
		}
		p.queues = []queueSpec{
			{name: "default", prio: 1, desc: fmt.Sprintf("default of %d", i)},
			{name: "high", prio: 2, desc: "high", limit: 2},
			{name: "low", prio: 3, desc: "low"},
		}
		out = append(out, p)
	}
	return out
}

// without returns the model without the named objects and pools, and
// without the queues named pool+"/"+queue.
func (m model) without(names ...string) model {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	out := m
	out.objects, out.pools = nil, nil
	for _, o := range m.objects {
		if !drop[o.name] {
			out.objects = append(out.objects, o)
		}
	}
	for _, p := range m.pools {
		if drop[p.name] {
			continue
		}
		var qs []queueSpec
		for _, qu := range p.queues {
			if !drop[p.name+"/"+qu.name] {
				qs = append(qs, qu)
			}
		}
		p.queues = qs
		out.pools = append(out.pools, p)
	}
	return out
}

// prefectKeys lists the pools and queues the model declares.
func (m model) prefectKeys() map[state.Key]bool {
	out := map[state.Key]bool{}
	for _, k := range m.keys() {
		if k.System == state.Prefect {
			out[k] = true
		}
	}
	return out
}

// serverView is what the servers hold of a model's objects: which exist,
// and which exist but differ from the file (half written).
type serverView struct {
	exists  map[state.Key]bool
	differs map[state.Key]string
}

// inspect reads every declared object back from the servers.
func (e *env) inspect(m model) serverView {
	e.t.Helper()
	v := serverView{exists: map[state.Key]bool{}, differs: map[state.Key]string{}}
	a := e.api()
	for _, p := range m.pools {
		k := state.PoolKey(p.name)
		lp, ok := a.pool(p.name)
		if !ok {
			continue
		}
		v.exists[k] = true
		if lp.Type != p.typ || lp.Description == nil || *lp.Description != p.desc || lp.ConcurrencyLimit == nil || *lp.ConcurrencyLimit != p.limit || len(lp.BaseJobTemplate) == 0 {
			v.differs[k] = fmt.Sprintf("type %q, description %v, limit %v, template keys %d", lp.Type, deref(lp.Description), derefInt(lp.ConcurrencyLimit), len(lp.BaseJobTemplate))
		}
		live := a.queues(p.name)
		for _, qu := range p.queues {
			qk := state.QueueKey(p.name, qu.name)
			lq, ok := live[qu.name]
			if !ok {
				continue
			}
			v.exists[qk] = true
			want := map[string]any{"priority": qu.prio, "description": qu.desc, "limit": qu.limit}
			got := map[string]any{"priority": lq.Priority, "description": deref(lq.Description), "limit": derefInt(lq.ConcurrencyLimit)}
			if !reflect.DeepEqual(want, got) {
				v.differs[qk] = fmt.Sprintf("%v, want %v", got, want)
			}
		}
	}
	check := func(k state.Key, data map[string]string) {
		o, ok := e.object(k)
		if !ok {
			return
		}
		v.exists[k] = true
		labels := o.GetLabels()
		if labels[state.ManagedByLabel] != state.ManagedByValue || labels[state.SetLabel] != m.set {
			v.differs[k] = fmt.Sprintf("labels %v", labels)
		}
		if data != nil {
			got, _ := o.Object["data"].(map[string]any)
			want := map[string]any{}
			for k, s := range data {
				want[k] = s
			}
			if !reflect.DeepEqual(got, want) {
				v.differs[k] = fmt.Sprintf("data %v, want %v", got, want)
			}
		}
	}
	if !m.external && m.namespace != "" {
		check(kubeKey("Namespace", "", m.namespace), nil)
	}
	for _, o := range m.objects {
		check(m.objKey(o), o.data)
	}
	return v
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func derefInt(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// requireAll fails unless every declared object exists as declared.
func (e *env) requireAll(m model) {
	e.t.Helper()
	v := e.inspect(m)
	for _, k := range m.keys() {
		if !v.exists[k] {
			e.t.Errorf("%s is missing on the server", k)
		} else if d, bad := v.differs[k]; bad {
			e.t.Errorf("%s differs from the file: %s", k, d)
		}
	}
}
