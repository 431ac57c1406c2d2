package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// ObjectID names a Kubernetes object in the file.
type ObjectID struct{ Kind, Namespace, Name string }

func (o ObjectID) String() string {
	if o.Namespace == "" {
		return fmt.Sprintf("%s %q", o.Kind, o.Name)
	}
	return fmt.Sprintf("%s %q in namespace %q", o.Kind, o.Name, o.Namespace)
}

// ResourceNamespace is the namespace a manifest is applied in: its own, else
// kubernetes.namespace; "" for cluster-scoped kinds.
func (f *File) ResourceNamespace(r Resource) string {
	kind, _ := r["kind"].(string)
	if state.IsClusterScoped(kind) {
		return ""
	}
	md, _ := r["metadata"].(map[string]any)
	if ns, _ := md["namespace"].(string); ns != "" {
		return ns
	}
	return f.DefaultNamespace()
}

// DefaultNamespace is kubernetes.namespace, or "" when unset.
func (f *File) DefaultNamespace() string {
	if f.Kubernetes == nil {
		return ""
	}
	return f.Kubernetes.Namespace
}

// JobNamespace is the namespace a pool's flow-run jobs run in.
func (f *File) JobNamespace(p *Pool) string {
	if p.JobTemplate != nil && p.JobTemplate.Namespace != "" {
		return p.JobTemplate.Namespace
	}
	return orDefault(f.DefaultNamespace(), "default")
}

// ResourceName is a manifest's metadata.name.
func ResourceName(r Resource) string {
	md, _ := r["metadata"].(map[string]any)
	n, _ := md["name"].(string)
	return n
}

type checker struct {
	d     *Document
	f     *File
	probs Problems
	// objects the file declares or names as external, with the keys of
	// Secrets and ConfigMaps (nil = any key).
	known map[ObjectID]map[string]bool
}

func (c *checker) add(p Path, format string, args ...any) *Problem {
	c.probs = append(c.probs, Problem{File: c.d.Name, Pos: c.d.Pos(p), Path: p, Message: fmt.Sprintf(format, args...)})
	return &c.probs[len(c.probs)-1]
}

func (d *Document) check(f *File) Problems {
	c := &checker{d: d, f: f, known: map[ObjectID]map[string]bool{}}
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		c.known[ObjectID{"Namespace", "", ns}] = nil
	}
	c.kubernetes()
	seen := map[string]int{}
	for i := range f.Pools {
		p := &f.Pools[i]
		path := Path{"pools", strconv.Itoa(i)}
		if j, dup := seen[p.Name]; dup {
			c.add(path.Child("name"), "duplicate pool name %q (also pools[%d])", p.Name, j)
		} else {
			seen[p.Name] = i
		}
		c.prefectName(path.Child("name"), "pool", p.Name)
		c.pool(path, p)
	}
	return c.probs
}

// prefectName applies the server's rules for pool and queue names.
func (c *checker) prefectName(p Path, what, name string) {
	if i := strings.IndexAny(name, "/%&><"); i >= 0 {
		c.add(p, "%s name %q contains %q; Prefect does not allow / %% & > < in names", what, name, name[i:i+1])
	}
	if strings.ContainsAny(name, "\n") {
		c.add(p, "%s name %q contains a line break; Prefect creates such a %s but then cannot find it by name, so it could never be updated or deleted", what, name, what)
	}
	if what == "pool" && strings.HasPrefix(strings.ToLower(name), "prefect") {
		c.add(p, "pool names starting with \"prefect\" are reserved by Prefect")
	}
	if what == "pool" && name != "" && strings.Trim(name, "' \"") == "" {
		c.add(p, "pool name %q is only spaces and quotes; Prefect refuses it as empty", name)
	}
}

func (c *checker) pool(path Path, p *Pool) {
	queues := map[string]int{}
	prios := map[int]int{}
	for i, q := range p.Queues {
		qp := path.Child("queues", strconv.Itoa(i))
		if j, dup := queues[q.Name]; dup {
			c.add(qp.Child("name"), "duplicate queue name %q in pool %q (also queues[%d])", q.Name, p.Name, j)
		} else {
			queues[q.Name] = i
		}
		c.prefectName(qp.Child("name"), "queue", q.Name)
		if q.Priority != nil {
			if j, dup := prios[*q.Priority]; dup {
				c.add(qp.Child("priority"), "priority %d is already used by queue %q; priorities are unique within a pool", *q.Priority, p.Queues[j].Name)
			} else {
				prios[*q.Priority] = i
			}
		}
	}
	switch {
	case p.JobTemplate != nil && p.BaseJobTemplate != nil:
		c.add(path.Child("baseJobTemplate"), "jobTemplate and baseJobTemplate cannot both be set").Hint =
			"use jobTemplate for overrides of the default template, or baseJobTemplate for a complete template"
	case p.JobTemplate != nil && p.Type != "kubernetes":
		c.add(path.Child("jobTemplate"), "jobTemplate overrides apply to type kubernetes only, not %q", p.Type).Hint =
			"give a complete baseJobTemplate for this worker type"
	case p.JobTemplate == nil && p.BaseJobTemplate == nil && p.Type != "kubernetes" && p.Type != "process":
		pr := c.add(path.Child("type"), "type %q has no embedded default template; give a baseJobTemplate", p.Type)
		pr.Hint = "without one the first worker to connect writes its own default, which then shows as drift"
		if h := suggest(p.Type, []string{"kubernetes", "process"}); strings.HasPrefix(h, "did you mean") {
			pr.Hint = h + " Otherwise: " + pr.Hint
		}
	}
	if p.JobTemplate != nil {
		c.jobTemplate(path.Child("jobTemplate"), p)
	}
	if p.BaseJobTemplate != nil {
		c.baseJobTemplate(path.Child("baseJobTemplate"), p.BaseJobTemplate)
	}
	c.credentialValues(path, p)
}

func (c *checker) jobTemplate(path Path, p *Pool) {
	t := p.JobTemplate
	ns := c.f.JobNamespace(p)
	if t.Namespace != "" {
		c.dns1123Label(path.Child("namespace"), t.Namespace)
	}
	c.require(path.Child("namespace"), ObjectID{"Namespace", "", ns}, "", fmt.Sprintf("pool %q runs its jobs in namespace %q", p.Name, ns))
	if t.ServiceAccountName != "" && t.ServiceAccountName != "default" {
		c.require(path.Child("serviceAccountName"), ObjectID{"ServiceAccount", ns, t.ServiceAccountName}, "", "")
	}
	if isWorkerStart(strings.Fields(t.Command)) {
		c.workerStart(path.Child("command"))
	}
	for i, e := range t.Env {
		ep := path.Child("env", strconv.Itoa(i))
		if e.ValueFrom == nil {
			continue
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil && (r.Optional == nil || !*r.Optional) {
			c.require(ep.Child("valueFrom", "secretKeyRef"), ObjectID{"Secret", ns, r.Name}, r.Key, "")
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil && (r.Optional == nil || !*r.Optional) {
			c.require(ep.Child("valueFrom", "configMapKeyRef"), ObjectID{"ConfigMap", ns, r.Name}, r.Key, "")
		}
	}
	for i, v := range t.Volumes {
		vp := path.Child("volumes", strconv.Itoa(i))
		if v.PersistentVolumeClaim != nil {
			c.require(vp.Child("persistentVolumeClaim", "claimName"), ObjectID{"PersistentVolumeClaim", ns, v.PersistentVolumeClaim.ClaimName}, "", "")
		}
		if v.Secret != nil && (v.Secret.Optional == nil || !*v.Secret.Optional) {
			c.require(vp.Child("secret", "secretName"), ObjectID{"Secret", ns, v.Secret.SecretName}, "", "")
		}
		if v.ConfigMap != nil && (v.ConfigMap.Optional == nil || !*v.ConfigMap.Optional) {
			c.require(vp.Child("configMap", "name"), ObjectID{"ConfigMap", ns, v.ConfigMap.Name}, "", "")
		}
	}
	volumes := map[string]bool{}
	for _, v := range t.Volumes {
		volumes[v.Name] = true
	}
	for i, m := range t.VolumeMounts {
		if !volumes[m.Name] {
			c.add(path.Child("volumeMounts", strconv.Itoa(i), "name"), "volume mount %q names no volume in jobTemplate.volumes", m.Name)
		}
	}
}

func (c *checker) require(p Path, id ObjectID, key, context string) {
	keys, ok := c.known[id]
	if !ok {
		what := id.String()
		if context != "" {
			what = context + ", but " + id.String()
		}
		c.add(p, "%s is not declared in this file", what).Hint = fmt.Sprintf(
			"declare it under kubernetes.resources (or kubernetes.secrets), or list it under kubernetes.external if it is managed elsewhere")
		return
	}
	if key != "" && keys != nil && !keys[key] {
		c.add(p, "%s has no key %q", id, key).Hint = "its keys: " + strings.Join(slices.Sorted(maps.Keys(keys)), ", ")
	}
}

func (c *checker) workerStart(p Path) {
	c.add(p, "the job's container runs `prefect worker start`: every flow-run Job would start a long-lived worker instead of running its flow").Hint =
		"leave the command empty so the worker runs the flow; run the worker itself as a Deployment, outside the job template"
}

// isWorkerStart reports whether a command line runs `prefect worker start`.
func isWorkerStart(args []string) bool {
	for i := 0; i+2 < len(args); i++ {
		if strings.HasSuffix(args[i], "prefect") && args[i+1] == "worker" && args[i+2] == "start" {
			return true
		}
	}
	return false
}

func (c *checker) dns1123Label(p Path, s string) {
	for _, msg := range validation.IsDNS1123Label(s) {
		c.add(p, "%q is not a valid name: %s", s, plainK8sMessage(msg))
	}
}

func (c *checker) dns1123Subdomain(p Path, s string) {
	for _, msg := range validation.IsDNS1123Subdomain(s) {
		c.add(p, "%q is not a valid name: %s", s, plainK8sMessage(msg))
	}
}

var k8sRegexRE = regexp.MustCompile(`, regex used for validation is '[^']*'`)

// plainK8sMessage drops the regular expression Kubernetes' validation
// messages end with, and their doubled spaces.
func plainK8sMessage(msg string) string {
	return strings.ReplaceAll(k8sRegexRE.ReplaceAllString(msg, ""), "  ", " ")
}
