// Package export writes a pools.yaml for an existing setup: the live
// Prefect work pools and queues and, on request, the Kubernetes objects
// their job templates reference. The file validates, and diff finds it in
// sync with the servers it was read from; `sync --adopt` then takes the
// objects over without recreating them.
//
// Job templates that are the embedded default plus overrides become
// jobTemplate (jobtemplate.Overrides, verified by merging again); others
// stay raw baseJobTemplate. Server-set fields (ids, timestamps, status,
// resourceVersion, managedFields) are left out, and Secret values are never
// read out: Secrets are listed under kubernetes.external, by name and keys.
// Nor are the secret values a live template holds in plain text (an env
// name that redact.LooksSecret): a Kubernetes template reads them from a Secret
// the file declares, filled from the environment at sync time; any other
// holds ${VAR} in their place. Verify tells those chosen changes from a
// file that fails to reproduce the live state.
package export

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/jobtemplate"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// Options say what to export.
type Options struct {
	// Set is the ownership set the file declares; empty leaves `set` out,
	// so that it defaults to the file's base name.
	Set string
	// Pools names the pools to export; empty means all.
	Pools []string
	// Kubernetes reads the service accounts the templates name and the
	// RBAC objects that bind them, and writes them under
	// kubernetes.resources; Secrets, ConfigMaps and PVCs are listed under
	// kubernetes.external with their keys. Without it every referenced
	// object is listed under kubernetes.external, unread.
	Kubernetes bool
	// Owners lists the sets whose inventory lists a pool or queue (a
	// pool's default queue with its pool); nil means none. The export
	// warns about those another set than Set manages: adopting the file
	// would take them from it.
	Owners func(state.Key) []string
}

// Export is the file to write, with the comments that go with it.
type Export struct {
	File *config.File
	// Comments are placed above the value at each path ("pools.0",
	// "kubernetes.external.2").
	Comments map[string]string
	// Warnings are for the user: what could not be exported as it is.
	Warnings []string
	// Inexact names the pools whose template a file cannot reproduce
	// (an empty template): the first sync changes them, as a warning says.
	Inexact map[string]bool
	// Moved lists the secret values of the live templates that the file
	// does not hold (see redact.LooksSecret), each with a warning.
	Moved []Moved

	// intended are the templates the file stands for, by pool, where
	// secret values moved out; refPaths are the paths (as Comments') of
	// the ${VAR} references written in place of values, values their
	// live values, for Verify only; secrets go to kubernetes.secrets.
	intended map[string]map[string]any
	refPaths map[string]bool
	values   map[string]string
	secrets  []config.Secret
}

// Build exports live (a Prefect State as the client reads it). kube is
// needed only with opts.Kubernetes.
func Build(ctx context.Context, live *state.State, kube Kube, opts Options) (*Export, error) {
	names, err := selectPools(live, opts.Pools)
	if err != nil {
		return nil, err
	}
	e := &Export{File: &config.File{Set: opts.Set}, Comments: map[string]string{}, Inexact: map[string]bool{},
		intended: map[string]map[string]any{}, refPaths: map[string]bool{}, values: map[string]string{}}
	var refs []ref
	for _, name := range names {
		refs = append(refs, references(name, live.Pools[name].BaseJobTemplate)...)
	}
	s := &secretNames{used: map[string]string{}, taken: map[string]bool{}}
	for _, r := range refs {
		if r.kind == "Secret" {
			s.taken[r.ns+"/"+r.name] = true
		}
	}
	queues := live.QueuesByPool()
	for _, name := range names {
		e.addPool(live.Pools[name], queues[name], s)
		e.Warnings = append(e.Warnings, owned(opts, name, queues[name])...)
	}
	k := newKubeSection()
	if opts.Kubernetes && len(refs) > 0 {
		if kube == nil {
			return nil, fmt.Errorf("exporting Kubernetes objects: no cluster connection")
		}
		if err := k.read(ctx, kube, refs); err != nil {
			return nil, err
		}
	} else {
		for _, r := range refs {
			var keys []string
			if r.dataKey != "" {
				keys = []string{r.dataKey}
			}
			k.external(r.key(), keys, r.pool)
		}
	}
	e.Warnings = append(e.Warnings, k.warnings...)
	k.declared = e.secrets
	e.File.Kubernetes = k.section(e.Comments)
	return e, nil
}

// secretNames hands out the Secrets and environment variables that the
// moved secret values go to, each name once.
type secretNames struct {
	used  map[string]string // environment variables, see uniqueEnv
	taken map[string]bool   // Secrets, "namespace/name"
}

// addPool exports one live pool, its secret values kept out of the file.
func (e *Export) addPool(lp *state.Pool, queues []*state.Queue, names *secretNames) {
	secret, ns := secretObjectName(lp.Name), templateNamespace(lp.BaseJobTemplate)
	for i := 2; names.taken[ns+"/"+secret]; i++ {
		secret = fmt.Sprintf("%s-%d", secretObjectName(lp.Name), i)
	}
	so := keepSecretsOut(lp.Name, lp.Type, lp.BaseJobTemplate, secret, names.used)
	if so.secret != nil {
		names.taken[ns+"/"+secret] = true
		e.secrets = append(e.secrets, *so.secret)
	}
	written := *lp
	written.BaseJobTemplate = so.written
	p, warn := pool(&written, queues)
	if warn != "" {
		e.Warnings = append(e.Warnings, warn)
		e.Inexact[lp.Name] = true
	}
	if len(so.refs) > 0 && p.BaseJobTemplate == nil {
		// Overrides hold no ${VAR}: the template goes as it is.
		jc, _ := so.written["job_configuration"].(map[string]any)
		vars, _ := so.written["variables"].(map[string]any)
		p.JobTemplate, p.BaseJobTemplate = nil, &config.BaseJobTemplate{JobConfiguration: jc, Variables: vars}
	}
	i := len(e.File.Pools)
	e.File.Pools = append(e.File.Pools, p)
	for _, r := range so.refs {
		e.refPaths[strings.Join(append([]string{"pools", fmt.Sprint(i), "baseJobTemplate"}, r...), ".")] = true
	}
	for env, v := range so.values {
		e.values[env] = v
	}
	if len(so.moved) > 0 {
		e.intended[lp.Name] = so.intended
	}
	for _, m := range so.moved {
		e.Moved = append(e.Moved, m)
		e.Warnings = append(e.Warnings, m.Warning(lp.Type))
	}
}

// owned warns about a pool, or queues of it, that sets other than the
// file's manage: sync --adopt with the file would take them from those.
func owned(opts Options, pool string, queues []*state.Queue) []string {
	if opts.Owners == nil {
		return nil
	}
	others := func(k state.Key) []string {
		var out []string
		for _, s := range opts.Owners(k) {
			if s != opts.Set {
				out = append(out, s)
			}
		}
		return out
	}
	file := "the file's set"
	if opts.Set != "" {
		file = fmt.Sprintf("set %q", opts.Set)
	}
	warn := func(what string, sets []string) string {
		names := setNames(sets)
		return fmt.Sprintf("%s is managed by %s: sync --adopt with this file moves it to %s, and %s no longer manages it; to leave it with %s, take it out of the file (or export without it: --pool)",
			what, names, file, names, names)
	}
	if sets := others(state.PoolKey(pool)); len(sets) > 0 {
		return []string{warn(fmt.Sprintf("work pool %q", pool), sets)}
	}
	var out []string
	for _, q := range queues {
		if sets := others(state.QueueKey(pool, q.Name)); len(sets) > 0 {
			out = append(out, warn(fmt.Sprintf("work queue %q in pool %q", q.Name, pool), sets))
		}
	}
	return out
}

// setNames names sets for people, as plans do: `set "a"`, `sets "a" and "b"`.
func setNames(sets []string) string {
	quoted := make([]string, len(sets))
	for i, s := range sets {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	if len(sets) == 1 {
		return "set " + quoted[0]
	}
	return "sets " + strings.Join(quoted[:len(quoted)-1], ", ") + " and " + quoted[len(quoted)-1]
}

func selectPools(live *state.State, want []string) ([]string, error) {
	if len(want) == 0 {
		names := make([]string, 0, len(live.Pools))
		for n := range live.Pools {
			names = append(names, n)
		}
		sort.Strings(names)
		return names, nil
	}
	var missing []string
	seen := map[string]bool{}
	var names []string
	for _, n := range want {
		if _, ok := live.Pools[n]; !ok {
			missing = append(missing, fmt.Sprintf("%q", n))
			continue
		}
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no work pool %s on the server", strings.Join(missing, ", "))
	}
	sort.Strings(names)
	return names, nil
}

// pool converts a live pool and its queues. Fields are written only where
// they say something: a description that is set, paused when paused, a
// concurrency limit when there is one.
func pool(lp *state.Pool, queues []*state.Queue) (config.Pool, string) {
	p := config.Pool{Name: lp.Name, Type: lp.Type}
	if lp.Description != nil && *lp.Description != "" {
		p.Description = lp.Description
	}
	if lp.Paused != nil && *lp.Paused {
		p.Paused = lp.Paused
	}
	p.ConcurrencyLimit = lp.ConcurrencyLimit
	warn := template(&p, lp.BaseJobTemplate)
	sort.SliceStable(queues, func(i, j int) bool {
		pi, pj := prio(queues[i]), prio(queues[j])
		if pi != pj {
			return pi < pj
		}
		return queues[i].Name < queues[j].Name
	})
	for _, lq := range queues {
		q := config.Queue{Name: lq.Name, Priority: lq.Priority, ConcurrencyLimit: lq.ConcurrencyLimit}
		if lq.Description != nil && *lq.Description != "" && !(lq.Name == "default" && *lq.Description == defaultQueueDescription) {
			q.Description = lq.Description
		}
		if lq.Paused != nil && *lq.Paused {
			q.Paused = lq.Paused
		}
		p.Queues = append(p.Queues, q)
	}
	return p, warn
}

// defaultQueueDescription is what Prefect gives the default queue of a new
// pool: a server default, left out like the other server-set fields.
const defaultQueueDescription = "The work pool's default queue."

func prio(q *state.Queue) int {
	if q.Priority == nil {
		return 1 << 30
	}
	return *q.Priority
}

// template sets the pool's jobTemplate, its baseJobTemplate, or neither
// (the embedded default), whichever reproduces the live template.
func template(p *config.Pool, t map[string]any) string {
	if len(t) == 0 {
		if p.Type == "kubernetes" || p.Type == "process" {
			return fmt.Sprintf("work pool %q has an empty base job template (no worker has filled it in yet); the file gives it the embedded default, which the first sync writes", p.Name)
		}
		return fmt.Sprintf("work pool %q has an empty base job template, which a file cannot hold; give it a baseJobTemplate before syncing", p.Name)
	}
	if p.Type == "kubernetes" {
		if jt, ok := jobtemplate.Overrides(t); ok {
			if !jobtemplate.IsZero(jt) {
				p.JobTemplate = jt
			}
			if names := jobtemplate.Unguarded(t); len(names) > 0 {
				return fmt.Sprintf("work pool %q: a worker with its own %s replaces the template's Secret reference of that name with its value, in plain text in every Job; the first sync adds a null env default that keeps the reference", p.Name, strings.Join(names, ", "))
			}
			return ""
		}
	}
	if def, ok, _ := jobtemplate.Default(p.Type); ok && p.Type != "kubernetes" && sameJSON(def, t) {
		return ""
	}
	jc, _ := t["job_configuration"].(map[string]any)
	vars, _ := t["variables"].(map[string]any)
	p.BaseJobTemplate = &config.BaseJobTemplate{JobConfiguration: jc, Variables: vars}
	if jc == nil || vars == nil || len(t) != 2 {
		return fmt.Sprintf("work pool %q: its base job template is not {job_configuration, variables}; exported as far as it goes", p.Name)
	}
	if names := jobtemplate.Unguarded(t); p.Type == "kubernetes" && len(names) > 0 {
		return fmt.Sprintf("work pool %q: a worker with its own %s replaces the template's Secret reference of that name with its value, in plain text in every Job; set %s to null in the env variable's default to keep the reference", p.Name, strings.Join(names, ", "), strings.Join(names, ", "))
	}
	return ""
}

func sameJSON(a, b map[string]any) bool {
	na, err1 := normalize(a)
	nb, err2 := normalize(b)
	return err1 == nil && err2 == nil && reflect.DeepEqual(na, nb)
}
