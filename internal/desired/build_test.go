package desired_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/desired"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

const canary = "CANARY-desired-51c7"

func loadExample(t *testing.T) *config.File {
	t.Helper()
	doc, probs := config.LoadFile(filepath.Join("..", "..", "examples", "pools.yaml"),
		config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	f, probs := doc.Validate()
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	return f
}

// env is a LookupEnv over a map that records what was asked.
type env struct {
	vars  map[string]string
	asked []string
}

func (e *env) lookup(name string) (string, bool) {
	e.asked = append(e.asked, name)
	v, ok := e.vars[name]
	return v, ok
}

func kube(kind, namespace, name string) state.Key {
	return state.Key{System: state.Kubernetes, Kind: kind, Namespace: namespace, Name: name}
}

func TestBuildExample(t *testing.T) {
	f := loadExample(t)
	e := &env{vars: map[string]string{"PREFECT_API_AUTH_STRING": canary}}
	s, err := desired.Build(f, desired.Options{LookupEnv: e.lookup})
	if err != nil {
		t.Fatal(err)
	}
	rbac := "rbac.authorization.k8s.io"
	wantObjects := []state.Key{
		kube("Namespace", "", "prefect"),
		kube("PersistentVolumeClaim", "prefect", "shared-data"),
		kube("Secret", "prefect", "prefect-basic-auth"),
		kube("ServiceAccount", "prefect", "prefect-worker"),
		{System: state.Kubernetes, Group: rbac, Kind: "ClusterRole", Name: "prefect-worker-role"},
		{System: state.Kubernetes, Group: rbac, Kind: "ClusterRoleBinding", Name: "prefect-worker-binding"},
	}
	var got []state.Key
	for k, o := range s.Objects {
		got = append(got, k)
		// The key is the object's own identity.
		if state.ObjectKey(o) != k {
			t.Errorf("%s stored under %s", state.ObjectKey(o), k)
		}
		// Every object carries both ownership labels.
		if !state.OwnedBy(o, f.Set) {
			t.Errorf("%s lacks the ownership labels: %v", k, o.GetLabels())
		}
		// Namespaced kinds get kubernetes.namespace; cluster-scoped none.
		wantNS := "prefect"
		if state.IsClusterScoped(k.Kind) {
			wantNS = ""
		}
		if o.GetNamespace() != wantNS {
			t.Errorf("%s: namespace %q, want %q", k, o.GetNamespace(), wantNS)
		}
	}
	state.SortKeys(got)
	state.SortKeys(wantObjects)
	if !reflect.DeepEqual(got, wantObjects) {
		t.Errorf("objects %v\nwant %v", got, wantObjects)
	}

	secret := kube("Secret", "prefect", "prefect-basic-auth")
	if data := s.SecretData[secret]; len(data) != 1 || string(data["auth-string"]) != canary {
		t.Errorf("secret data %q", data)
	}
	if o := s.Objects[secret]; o.Object["type"] != "Opaque" || o.Object["data"] != nil || o.Object["stringData"] != nil {
		t.Errorf("the Secret object holds %v; its values belong in SecretData only", o.Object)
	}
	if !reflect.DeepEqual(e.asked, []string{"PREFECT_API_AUTH_STRING"}) {
		t.Errorf("environment variables read: %v", e.asked)
	}

	if len(s.Pools) != 4 {
		t.Fatalf("%d pools", len(s.Pools))
	}
	gbif := s.Pools["gbif-automations"]
	if gbif.Type != "kubernetes" || gbif.Description == nil || *gbif.Description != "GBIF Norway automations in the custom container" ||
		gbif.Paused != nil || gbif.ConcurrencyLimit != nil || gbif.BaseJobTemplate == nil {
		t.Errorf("pool %+v", gbif)
	}
	wantRequires := []state.Key{kube("Namespace", "", "prefect"), kube("ServiceAccount", "prefect", "prefect-worker"),
		kube("Secret", "prefect", "prefect-basic-auth"), kube("PersistentVolumeClaim", "prefect", "shared-data")}
	if !reflect.DeepEqual(gbif.Requires, wantRequires) {
		t.Errorf("requires %v\nwant %v", gbif.Requires, wantRequires)
	}
	// Requirements are the keys of the declared objects they name.
	for _, p := range s.Pools {
		for _, r := range p.Requires {
			if _, ok := s.Objects[r]; !ok {
				t.Errorf("pool %s requires %s, which is not a declared object's key", p.Name, r)
			}
		}
	}
	if gpu := s.Pools["gpu-tasks"]; gpu.ConcurrencyLimit == nil || *gpu.ConcurrencyLimit != 1 {
		t.Errorf("gpu-tasks limit %v", gpu.ConcurrencyLimit)
	}
	urgent := s.Queues[state.QueueKey("gpu-tasks", "urgent")]
	def := s.Queues[state.QueueKey("gpu-tasks", "default")]
	if urgent == nil || def == nil || *urgent.Priority != 1 || *def.Priority != 2 || urgent.Description == nil || def.Description != nil || def.Paused != nil {
		t.Errorf("gpu-tasks queues: %+v, %+v", urgent, def)
	}
	if len(s.Queues) != 5 {
		t.Errorf("%d queues", len(s.Queues))
	}
	// The built state never holds the secret anywhere but SecretData.
	for k, o := range s.Objects {
		raw, _ := o.MarshalJSON()
		if strings.Contains(string(raw), canary) {
			t.Errorf("%s holds the secret value", k)
		}
	}
}

func TestBuildWithoutKubernetesOrValues(t *testing.T) {
	f := loadExample(t)
	e := &env{}
	s, err := desired.Build(f, desired.Options{LookupEnv: e.lookup, SkipSecretValues: true})
	if err != nil {
		t.Fatal(err)
	}
	data, ok := s.SecretData[kube("Secret", "prefect", "prefect-basic-auth")]
	if !ok || len(data) != 1 || data["auth-string"] != nil {
		t.Errorf("secret data without values: %q (present %v)", data, ok)
	}
	if len(e.asked) != 0 {
		t.Errorf("read %v without needing values", e.asked)
	}
	s, err = desired.Build(f, desired.Options{LookupEnv: e.lookup, SkipKubernetes: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Objects) != 0 || len(s.SecretData) != 0 || len(e.asked) != 0 {
		t.Errorf("SkipKubernetes built %d objects, read %v", len(s.Objects), e.asked)
	}
	for _, p := range s.Pools {
		if len(p.Requires) != 0 {
			t.Errorf("pool %s requires %v without Kubernetes", p.Name, p.Requires)
		}
	}
}

func secretsFile(secrets ...config.Secret) *config.File {
	return &config.File{Set: "team", Kubernetes: &config.Kubernetes{Namespace: "prefect", Secrets: secrets,
		Resources: []config.Resource{
			{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "elsewhere", "namespace": "other",
				"labels": map[string]any{"team": "data"}}},
			{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": map[string]any{"name": "role"}},
		}}}
}

func TestSecretSources(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token.txt"), []byte(canary+"-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(t.TempDir(), "abs.bin")
	if err := os.WriteFile(abs, []byte{0, 1, 2, 0xff}, 0o600); err != nil {
		t.Fatal(err)
	}
	f := secretsFile(
		config.Secret{Name: "mixed", Type: "kubernetes.io/basic-auth", Labels: map[string]string{"team": "data"}, Annotations: map[string]string{"note": "x"},
			Keys: map[string]config.SecretSource{"username": {FromEnv: "USER_NAME"}, "password": {FromFile: "token.txt"}, "raw": {FromFile: abs}}},
		config.Secret{Name: "elsewhere", Namespace: "vault", Keys: map[string]config.SecretSource{"k": {FromEnv: "EMPTY"}}},
	)
	e := &env{vars: map[string]string{"USER_NAME": canary + "-env", "EMPTY": ""}}
	s, err := desired.Build(f, desired.Options{LookupEnv: e.lookup, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	mixed := kube("Secret", "prefect", "mixed")
	data := s.SecretData[mixed]
	if string(data["username"]) != canary+"-env" || string(data["password"]) != canary+"-file\n" || string(data["raw"]) != "\x00\x01\x02\xff" {
		t.Errorf("data %q", data)
	}
	o := s.Objects[mixed]
	if o.Object["type"] != "kubernetes.io/basic-auth" || o.GetLabels()["team"] != "data" || !state.OwnedBy(o, "team") || o.GetAnnotations()["note"] != "x" {
		t.Errorf("secret object %v", o.Object)
	}
	if d := s.SecretData[kube("Secret", "vault", "elsewhere")]; d == nil || string(d["k"]) != "" || len(d) != 1 {
		t.Errorf("a set but empty variable is a value: %q", d)
	}
	// A resource keeps its own namespace and labels next to the ownership
	// labels; a cluster-scoped one has none.
	cm := s.Objects[kube("ConfigMap", "other", "elsewhere")]
	if cm == nil || cm.GetLabels()["team"] != "data" || !state.OwnedBy(cm, "team") {
		t.Errorf("configmap %v", cm)
	}
	role := s.Objects[state.Key{System: state.Kubernetes, Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "role"}]
	if role == nil || role.GetNamespace() != "" || !state.OwnedBy(role, "team") {
		t.Errorf("cluster role %v", role)
	}
	// Building does not change the file's manifests.
	if _, ok := f.Kubernetes.Resources[0]["metadata"].(map[string]any)["labels"].(map[string]any)[state.ManagedByLabel]; ok {
		t.Error("the file's manifest was labelled in place")
	}
}

// A missing source fails the build with an error that names the Secret, the
// key and the variable or file, and never a value read before it.
func TestSecretErrorsNameTheSourceNotTheValue(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]struct {
		keys map[string]config.SecretSource
		env  map[string]string
		want []string
	}{
		"unset variable": {
			keys: map[string]config.SecretSource{"a-first": {FromEnv: "SET_ONE"}, "b-second": {FromEnv: "NOT_SET_ANYWHERE"}},
			env:  map[string]string{"SET_ONE": canary},
			want: []string{"NOT_SET_ANYWHERE", `"b-second"`, "prefect/auth", "not set"},
		},
		"missing file": {
			keys: map[string]config.SecretSource{"a-first": {FromEnv: "SET_ONE"}, "b-second": {FromFile: "nope/missing.txt"}},
			env:  map[string]string{"SET_ONE": canary},
			want: []string{"nope/missing.txt", `"b-second"`, "prefect/auth", "no such file"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := &env{vars: tc.env}
			_, err := desired.Build(secretsFile(config.Secret{Name: "auth", Keys: tc.keys}), desired.Options{LookupEnv: e.lookup, Dir: dir})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("error holds a secret value: %q", err)
			}
			if strings.Count(err.Error(), dir) > 1 {
				t.Errorf("error repeats the path: %q", err)
			}
		})
	}
}

func TestBuildPropagatesTemplateErrors(t *testing.T) {
	f := &config.File{Set: "s", Pools: []config.Pool{{Name: "ecs-pool", Type: "ecs"}}}
	if _, err := desired.Build(f, desired.Options{SkipKubernetes: true}); err == nil || !strings.Contains(err.Error(), "ecs-pool") {
		t.Errorf("pool without a template for its type: %v", err)
	}
}
