package plan_test

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

func ptr[T any](v T) *T { return &v }

func everythingOwned(state.Key) bool { return true }

func compute(t *testing.T, desired, live *state.State, opts plan.Options) *plan.Plan {
	t.Helper()
	if opts.Set == "" {
		opts.Set = "test"
	}
	p, err := plan.Compute(desired, live, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func changeOf(t *testing.T, p *plan.Plan, k state.Key) plan.Change {
	t.Helper()
	for _, c := range p.Changes {
		if c.Key == k {
			return c
		}
	}
	t.Fatalf("no change for %s in %v", k, keys(p))
	return plan.Change{}
}

func keys(p *plan.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, string(c.Action)+" "+c.Key.String())
	}
	return out
}

func paths(c plan.Change) []string {
	var out []string
	for _, f := range c.Fields {
		out = append(out, f.Path)
	}
	return out
}

// Updates set only what changed: never a field equal on both sides, never
// a field the file leaves unmanaged (nil).
func TestUpdatesHoldOnlyChangedFields(t *testing.T) {
	tmpl := func(image any) map[string]any {
		return map[string]any{"job_configuration": map[string]any{"image": "{{ image }}"},
			"variables": map[string]any{"properties": map[string]any{"image": map[string]any{"default": image}}}}
	}
	tests := map[string]struct {
		desired, live state.Pool
		action        plan.Action
		updates       state.Fields
		fields        []string
	}{
		"nothing differs": {
			desired: state.Pool{Description: ptr("d"), Paused: ptr(false), ConcurrencyLimit: ptr(2), BaseJobTemplate: tmpl("a")},
			live:    state.Pool{Description: ptr("d"), Paused: ptr(false), ConcurrencyLimit: ptr(2), BaseJobTemplate: tmpl("a")},
			action:  plan.NoOp, updates: 0,
		},
		"description only; paused unchanged is not set": {
			desired: state.Pool{Description: ptr("new"), Paused: ptr(true)},
			live:    state.Pool{Description: ptr("old"), Paused: ptr(true)},
			action:  plan.Update, updates: state.FieldDescription, fields: []string{"description"},
		},
		"paused only": {
			desired: state.Pool{Paused: ptr(true)},
			live:    state.Pool{Description: ptr("by hand"), Paused: ptr(false)},
			action:  plan.Update, updates: state.FieldPaused, fields: []string{"paused"},
		},
		"nil description and paused are unmanaged": {
			desired: state.Pool{},
			live:    state.Pool{Description: ptr("by hand"), Paused: ptr(true)},
			action:  plan.NoOp, updates: 0,
		},
		"nil limit clears a live limit": {
			desired: state.Pool{},
			live:    state.Pool{ConcurrencyLimit: ptr(5)},
			action:  plan.Update, updates: state.FieldConcurrencyLimit, fields: []string{"concurrencyLimit"},
		},
		"a limit of 0 is a limit": {
			desired: state.Pool{ConcurrencyLimit: ptr(0)},
			live:    state.Pool{},
			action:  plan.Update, updates: state.FieldConcurrencyLimit, fields: []string{"concurrencyLimit"},
		},
		"an empty description clears one": {
			desired: state.Pool{Description: ptr("")},
			live:    state.Pool{Description: ptr("old")},
			action:  plan.Update, updates: state.FieldDescription, fields: []string{"description"},
		},
		"the template is sent whole when one field differs": {
			desired: state.Pool{BaseJobTemplate: tmpl("b")},
			live:    state.Pool{BaseJobTemplate: tmpl("a")},
			action:  plan.Update, updates: state.FieldBaseJobTemplate,
			fields: []string{"baseJobTemplate.variables.properties.image.default"},
		},
		"a nil template is unmanaged": {
			desired: state.Pool{},
			live:    state.Pool{BaseJobTemplate: tmpl("a")},
			action:  plan.NoOp, updates: 0,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d, l := tc.desired, tc.live
			d.Name, d.Type, l.Name, l.Type = "p", "process", "p", "process"
			desired, live := state.New(), state.New()
			desired.AddPool(&d)
			live.AddPool(&l)
			c := changeOf(t, compute(t, desired, live, plan.Options{Owned: everythingOwned}), state.PoolKey("p"))
			if c.Action != tc.action {
				t.Errorf("action %s, want %s", c.Action, tc.action)
			}
			if c.Updates != tc.updates {
				t.Errorf("updates {%s}, want {%s}", c.Updates, tc.updates)
			}
			if got := paths(c); !reflect.DeepEqual(got, tc.fields) {
				t.Errorf("fields %v, want %v", got, tc.fields)
			}
		})
	}
}

func TestQueueUpdatesHoldOnlyChangedFields(t *testing.T) {
	tests := map[string]struct {
		desired, live state.Queue
		updates       state.Fields
	}{
		"priority only; paused and limit unchanged are not set": {
			desired: state.Queue{Priority: ptr(2), Paused: ptr(false), ConcurrencyLimit: ptr(1)},
			live:    state.Queue{Priority: ptr(3), Paused: ptr(false), ConcurrencyLimit: ptr(1)},
			updates: state.FieldPriority,
		},
		"nil priority, description and paused are unmanaged": {
			desired: state.Queue{},
			live:    state.Queue{Priority: ptr(7), Description: ptr("x"), Paused: ptr(true)},
			updates: 0,
		},
		"nil limit clears one": {
			desired: state.Queue{Priority: ptr(1)},
			live:    state.Queue{Priority: ptr(1), ConcurrencyLimit: ptr(4)},
			updates: state.FieldConcurrencyLimit,
		},
		"everything": {
			desired: state.Queue{Priority: ptr(1), Description: ptr("d"), Paused: ptr(true), ConcurrencyLimit: ptr(2)},
			live:    state.Queue{Priority: ptr(2), Paused: ptr(false)},
			updates: state.FieldPriority | state.FieldDescription | state.FieldPaused | state.FieldConcurrencyLimit,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d, l := tc.desired, tc.live
			d.Pool, d.Name, l.Pool, l.Name = "p", "q", "p", "q"
			desired, live := state.New(), state.New()
			desired.AddPool(&state.Pool{Name: "p", Type: "process"})
			live.AddPool(&state.Pool{Name: "p", Type: "process"})
			desired.AddQueue(&d)
			live.AddQueue(&l)
			c := changeOf(t, compute(t, desired, live, plan.Options{Owned: everythingOwned}), state.QueueKey("p", "q"))
			if c.Updates != tc.updates {
				t.Errorf("updates {%s}, want {%s}", c.Updates, tc.updates)
			}
			if (tc.updates == 0) != (c.Action == plan.NoOp) || len(c.Fields) != len(slices.Collect(tc.updates.All())) {
				t.Errorf("action %s with fields %v for updates {%s}", c.Action, paths(c), tc.updates)
			}
		})
	}
}

// Templates are compared as JSON values: Go ints against the server's
// float64s, any key order, with nested paths for what differs.
func TestTemplateComparedStructurally(t *testing.T) {
	desiredTmpl := map[string]any{
		"job_configuration": map[string]any{"job_manifest": map[string]any{"spec": map[string]any{
			"backoffLimit": 0, "ttlSecondsAfterFinished": 3600,
			"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "prefect-job", "args": []string{"a", "b"}}}}}}}},
		"variables": map[string]any{"properties": map[string]any{"finished_job_ttl": map[string]any{"default": int64(3600), "type": "integer"}}},
	}
	var liveTmpl map[string]any
	raw := `{"variables":{"properties":{"finished_job_ttl":{"type":"integer","default":3600.0}}},
	  "job_configuration":{"job_manifest":{"spec":{"template":{"spec":{"containers":[{"args":["a","b"],"name":"prefect-job"}]}},"ttlSecondsAfterFinished":3600,"backoffLimit":0.0}}}}`
	if err := json.Unmarshal([]byte(raw), &liveTmpl); err != nil {
		t.Fatal(err)
	}
	desired, live := state.New(), state.New()
	desired.AddPool(&state.Pool{Name: "p", Type: "kubernetes", BaseJobTemplate: desiredTmpl})
	live.AddPool(&state.Pool{Name: "p", Type: "kubernetes", BaseJobTemplate: liveTmpl})
	if c := changeOf(t, compute(t, desired, live, plan.Options{Owned: everythingOwned}), state.PoolKey("p")); c.Action != plan.NoOp {
		t.Fatalf("equal templates: %s %v", c.Action, paths(c))
	}

	spec := desiredTmpl["job_configuration"].(map[string]any)["job_manifest"].(map[string]any)["spec"].(map[string]any)
	spec["backoffLimit"] = 2
	container := spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	container["args"] = []string{"a", "c"}
	container["resources"] = map[string]any{"limits": map[string]any{"nvidia.com/gpu": "1"}}
	c := changeOf(t, compute(t, desired, live, plan.Options{Owned: everythingOwned}), state.PoolKey("p"))
	want := []string{
		"baseJobTemplate.job_configuration.job_manifest.spec.backoffLimit",
		"baseJobTemplate.job_configuration.job_manifest.spec.template.spec.containers[0].args[1]",
		"baseJobTemplate.job_configuration.job_manifest.spec.template.spec.containers[0].resources",
	}
	if got := paths(c); !reflect.DeepEqual(got, want) {
		t.Errorf("paths %q, want %q", got, want)
	}
	if c.Fields[0].Old != 0.0 || c.Fields[0].New != 2.0 {
		t.Errorf("backoffLimit change %v → %v, want JSON numbers 0 → 2", c.Fields[0].Old, c.Fields[0].New)
	}
	if c.Updates != state.FieldBaseJobTemplate {
		t.Errorf("updates {%s}", c.Updates)
	}
}

// A type change replaces the pool and creates its declared queues again;
// the live queues that are not declared go with it.
func TestTypeChangeReplaces(t *testing.T) {
	desired, live := state.New(), state.New()
	desired.AddPool(&state.Pool{Name: "mem", Type: "process", Description: ptr("d")})
	desired.AddQueue(&state.Queue{Pool: "mem", Name: "default", Priority: ptr(1)})
	desired.AddQueue(&state.Queue{Pool: "mem", Name: "kept", Priority: ptr(2), Description: ptr("same")})
	live.AddPool(&state.Pool{Name: "mem", Type: "kubernetes", Description: ptr("d"), Updated: "t1"})
	live.AddQueue(&state.Queue{Pool: "mem", Name: "default", Priority: ptr(1)})
	live.AddQueue(&state.Queue{Pool: "mem", Name: "kept", Priority: ptr(2), Description: ptr("same")})
	live.AddQueue(&state.Queue{Pool: "mem", Name: "stale", Priority: ptr(3)})
	p := compute(t, desired, live, plan.Options{Owned: everythingOwned, Prune: true})
	if got, want := keys(p), []string{`replace WorkPool "mem"`, `create WorkQueue "mem/default"`, `create WorkQueue "mem/kept"`}; !reflect.DeepEqual(got, want) {
		t.Fatalf("plan %q, want %q", got, want)
	}
	r := p.Changes[0]
	if !strings.Contains(r.Reason, "kubernetes → process") || !strings.Contains(r.Reason, "deleted and created again") || r.Pool == nil || r.Pool.Type != "process" || r.Fingerprint != "t1" {
		t.Errorf("replace: %+v", r)
	}
	if q := p.Changes[1]; !q.Implicit || q.Updates != 0 {
		t.Errorf("default queue of the replaced pool: %+v", q)
	}
	// Same as live, but created again: every declared field is listed.
	if q := p.Changes[2]; q.Implicit || !reflect.DeepEqual(paths(q), []string{"priority", "description"}) || q.Queue == nil {
		t.Errorf("queue of the replaced pool: %+v", q)
	}
	for _, q := range p.Changes[1:] {
		if !reflect.DeepEqual(q.DependsOn, []state.Key{state.PoolKey("mem")}) {
			t.Errorf("%s depends on %v", q.Key, q.DependsOn)
		}
	}
}

// Only pending changes are dependencies: a pool waits for the Kubernetes
// objects it requires that are being written, and not for those in sync.
func TestDependsOnPendingRequirements(t *testing.T) {
	ns := state.Key{System: state.Kubernetes, Kind: "Namespace", Name: "prefect"}
	sa := state.Key{System: state.Kubernetes, Kind: "ServiceAccount", Namespace: "prefect", Name: "worker"}
	secret := state.Key{System: state.Kubernetes, Kind: "Secret", Namespace: "prefect", Name: "auth"}
	external := state.Key{System: state.Kubernetes, Kind: "PersistentVolumeClaim", Namespace: "prefect", Name: "managed-elsewhere"}
	mk := func(k state.Key, extra map[string]any) *unstructured.Unstructured {
		o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": k.Kind}}
		o.SetName(k.Name)
		o.SetNamespace(k.Namespace)
		for f, v := range extra {
			o.Object[f] = v
		}
		return o
	}
	desired, live := state.New(), state.New()
	desired.Objects[ns] = mk(ns, nil)
	desired.Objects[sa] = mk(sa, map[string]any{"automountServiceAccountToken": false})
	desired.Objects[secret] = mk(secret, nil)
	live.Objects[ns] = mk(ns, nil)
	live.Objects[sa] = mk(sa, nil)
	desired.AddPool(&state.Pool{Name: "gpu", Type: "kubernetes", Requires: []state.Key{ns, sa, secret, external}})
	desired.AddQueue(&state.Queue{Pool: "gpu", Name: "urgent", Priority: ptr(1)})
	p := compute(t, desired, live, plan.Options{Owned: everythingOwned})
	if c := changeOf(t, p, state.PoolKey("gpu")); !reflect.DeepEqual(c.DependsOn, []state.Key{sa, secret}) {
		t.Errorf("pool depends on %v, want the service account and the secret being written", c.DependsOn)
	}
	if c := changeOf(t, p, sa); len(c.DependsOn) != 0 {
		t.Errorf("service account in an unchanged namespace depends on %v", c.DependsOn)
	}
	if c := changeOf(t, p, state.QueueKey("gpu", "urgent")); !reflect.DeepEqual(c.DependsOn, []state.Key{state.PoolKey("gpu")}) {
		t.Errorf("queue depends on %v", c.DependsOn)
	}
	// Every dependency comes earlier in the plan.
	seen := map[state.Key]bool{}
	for _, c := range p.Changes {
		for _, d := range c.DependsOn {
			if !seen[d] {
				t.Errorf("%s depends on %s, which comes later", c.Key, d)
			}
		}
		seen[c.Key] = true
	}
}

// Server-set metadata and status never show; Secret values never appear
// anywhere in the plan, whatever the action.
func TestKubernetesServerFieldsAndSecrets(t *testing.T) {
	const canary = "CANARY-9d41"
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	secret := func(name string, data map[string]any, server bool) *unstructured.Unstructured {
		o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
			"metadata": map[string]any{"name": name, "namespace": "prefect", "labels": map[string]any{state.ManagedByLabel: state.ManagedByValue, state.SetLabel: "test"}}}}
		if data != nil {
			o.Object["data"] = data
		}
		if server {
			md := o.Object["metadata"].(map[string]any)
			md["uid"], md["resourceVersion"], md["creationTimestamp"], md["generation"] = "u", "17", "2026-01-01T00:00:00Z", int64(1)
			md["managedFields"] = []any{map[string]any{"manager": "prefect-apply", "fieldsV1": map[string]any{"f:data": map[string]any{"f:token": map[string]any{}}}}}
			md["annotations"] = map[string]any{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"token":"` + b64(canary) + `"}}`}
			o.Object["status"] = map[string]any{"note": canary}
		}
		return o
	}
	key := func(name string) state.Key {
		return state.Key{System: state.Kubernetes, Kind: "Secret", Namespace: "prefect", Name: name}
	}
	desired, live := state.New(), state.New()
	// Created: values from SecretData.
	desired.Objects[key("new")] = secret("new", nil, false)
	desired.SecretData[key("new")] = map[string][]byte{"token": []byte(canary), "other": []byte(canary)}
	// Updated: one key changed, one added, one removed (dry-run prediction).
	desired.Objects[key("rotated")] = secret("rotated", nil, false)
	live.Objects[key("rotated")] = secret("rotated", map[string]any{"token": b64(canary + "1"), "gone": b64(canary)}, true)
	predicted := secret("rotated", map[string]any{"token": b64(canary + "2"), "added": b64(canary)}, true)
	predicted.Object["stringData"] = map[string]any{"plain": canary}
	// Unchanged but for server-set fields.
	desired.Objects[key("same")] = secret("same", nil, false)
	live.Objects[key("same")] = secret("same", map[string]any{"token": b64(canary)}, true)
	predictedSame := secret("same", map[string]any{"token": b64(canary)}, true)
	// Not owned and different: unmanaged, with masked differences.
	desired.Objects[key("theirs")] = secret("theirs", nil, false)
	live.Objects[key("theirs")] = secret("theirs", map[string]any{"token": b64(canary)}, true)
	live.Objects[key("theirs")].SetLabels(nil)
	predictedTheirs := secret("theirs", map[string]any{"token": b64(canary + "x")}, true)
	// Left over: deleted.
	live.Objects[key("leftover")] = secret("leftover", map[string]any{"token": b64(canary)}, true)

	owned := func(k state.Key) bool { return k.Name != "theirs" }
	p := compute(t, desired, live, plan.Options{Owned: owned, Prune: true,
		Predicted: map[state.Key]*unstructured.Unstructured{key("rotated"): predicted, key("same"): predictedSame, key("theirs"): predictedTheirs}})
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, forbidden := range []string{canary, b64(canary), b64(canary + "1"), b64(canary + "2"), b64(canary + "x")} {
		if strings.Contains(string(raw), forbidden) {
			t.Errorf("the plan's JSON holds %q: %s", forbidden, raw)
		}
	}
	for _, c := range p.Changes {
		for _, f := range c.Fields {
			for _, server := range []string{"managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "status", "last-applied"} {
				if strings.Contains(f.Path, server) {
					t.Errorf("%s shows server-set field %s", c.Key, f.Path)
				}
			}
			if strings.HasPrefix(f.Path, "data") || strings.HasPrefix(f.Path, "stringData") {
				if !f.Sensitive || (f.HasOld && f.Old != plan.Masked) || (f.HasNew && f.New != plan.Masked) || (!f.HasOld && f.Old != nil) || (!f.HasNew && f.New != nil) {
					t.Errorf("%s: %+v is not masked", c.Key, f)
				}
			}
		}
	}
	want := map[state.Key]struct {
		action plan.Action
		fields []string
	}{
		key("new"):      {plan.Create, []string{"metadata.labels[\"app.kubernetes.io/managed-by\"]", "metadata.labels[\"prefect-apply.io/set\"]", "metadata.name", "metadata.namespace", "type", "data.other", "data.token"}},
		key("rotated"):  {plan.Update, []string{"data.added", "data.gone", "data.token", "stringData"}},
		key("same"):     {plan.NoOp, nil},
		key("theirs"):   {plan.Unmanaged, []string{"data.token"}},
		key("leftover"): {plan.Delete, nil},
	}
	for k, w := range want {
		c := changeOf(t, p, k)
		got := paths(c)
		if k == key("rotated") {
			// A whole stringData map added is listed key by key.
			for i, path := range got {
				if strings.HasPrefix(path, "stringData") {
					got[i] = "stringData"
				}
			}
		}
		if c.Action != w.action || !reflect.DeepEqual(got, w.fields) {
			t.Errorf("%s: %s %q, want %s %q", k, c.Action, paths(c), w.action, w.fields)
		}
	}
}

func TestComputeRefusesMissingState(t *testing.T) {
	if _, err := plan.Compute(nil, state.New(), plan.Options{}); err == nil {
		t.Error("nil desired state accepted")
	}
	if _, err := plan.Compute(state.New(), nil, plan.Options{}); err == nil {
		t.Error("nil live state accepted")
	}
	p, err := plan.Compute(state.New(), state.New(), plan.Options{Set: "s"})
	if err != nil || p.Version != plan.FormatVersion || p.Set != "s" || len(p.Changes) != 0 || p.HasChanges() {
		t.Errorf("empty plan %+v, %v", p, err)
	}
}
