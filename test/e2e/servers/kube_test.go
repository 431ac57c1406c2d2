package servers_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

// The test talks to the API server through rest.RESTClient and the typed API
// structs rather than the generated clientset, whose discovery/OpenAPI
// dependencies the module does not otherwise need.

// kubeClient is a minimal typed client: one RESTClient per API group version.
type kubeClient struct {
	cfg     *rest.Config
	clients map[schema.GroupVersion]*rest.RESTClient
}

func newKubeClient(t *testing.T, cfg *rest.Config) *kubeClient {
	t.Helper()
	c := &kubeClient{cfg: cfg, clients: map[schema.GroupVersion]*rest.RESTClient{}}
	for _, gv := range []schema.GroupVersion{
		corev1.SchemeGroupVersion, rbacv1.SchemeGroupVersion, authorizationv1.SchemeGroupVersion,
	} {
		gc := rest.CopyConfig(cfg)
		gc.GroupVersion = &gv
		gc.APIPath = "/apis"
		if gv.Group == "" {
			gc.APIPath = "/api"
		}
		gc.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
		rc, err := rest.RESTClientFor(gc)
		if err != nil {
			t.Fatal(err)
		}
		c.clients[gv] = rc
	}
	return c
}

func (c *kubeClient) rc(gv schema.GroupVersion) *rest.RESTClient { return c.clients[gv] }

// create POSTs obj to resource (in namespace ns unless empty) and decodes the
// response into obj.
func (c *kubeClient) create(ctx context.Context, gv schema.GroupVersion, ns, resource string, obj runtime.Object) error {
	return c.rc(gv).Post().NamespaceIfScoped(ns, ns != "").Resource(resource).
		Body(obj).Do(ctx).Into(obj)
}

func (c *kubeClient) canListPods(t *testing.T, ctx context.Context, user, ns string) bool {
	t.Helper()
	r := &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   user,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: ns, Verb: "list", Resource: "pods",
			},
		},
	}
	if err := c.create(ctx, authorizationv1.SchemeGroupVersion, "", "subjectaccessreviews", r); err != nil {
		t.Fatal(err)
	}
	return r.Status.Allowed
}

// TestKube checks that the API server started by StartKube is a real one:
// the pinned version, persistence, server-side apply, authentication of
// service-account tokens and enforced RBAC.
func TestKube(t *testing.T) {
	k := servers.StartKube(t)
	cfg := k.Config(t)
	if cfg.Host != k.Host {
		t.Errorf("kubeconfig server = %q, Host = %q", cfg.Host, k.Host)
	}
	c := newKubeClient(t, cfg)
	core := c.rc(corev1.SchemeGroupVersion)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	raw, err := core.Get().AbsPath("/version").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var v version.Info
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != "v1.37.2" {
		t.Errorf("server version = %q, want v1.37.2", v.GitVersion)
	}

	const ns, sa = "prefect-apply-e2e", "worker"
	if err := c.create(ctx, corev1.SchemeGroupVersion, "", "namespaces",
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	if err := c.create(ctx, corev1.SchemeGroupVersion, ns, "serviceaccounts",
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}); err != nil {
		t.Fatal(err)
	}

	t.Run("server-side apply dry run", func(t *testing.T) {
		manifest := []byte(`{
			"apiVersion": "v1", "kind": "Secret",
			"metadata": {"name": "prefect-api", "labels": {"app": "prefect"}},
			"stringData": {"PREFECT_API_KEY": "dummy"}
		}`)
		var got corev1.Secret
		err := core.Patch(types.ApplyPatchType).Namespace(ns).Resource("secrets").Name("prefect-api").
			VersionedParams(&metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: "prefect-apply"},
				scheme.ParameterCodec).
			Body(manifest).Do(ctx).Into(&got)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Data["PREFECT_API_KEY"]) != "dummy" || got.Labels["app"] != "prefect" {
			t.Errorf("dry-run result: data %v, labels %v", got.Data, got.Labels)
		}
		var managers []string
		for _, m := range got.ManagedFields {
			managers = append(managers, m.Manager+"/"+string(m.Operation))
		}
		if len(managers) != 1 || managers[0] != "prefect-apply/Apply" {
			t.Errorf("managed fields: %v, want [prefect-apply/Apply]", managers)
		}
		err = core.Get().Namespace(ns).Resource("secrets").Name("prefect-api").Do(ctx).Error()
		if !apierrors.IsNotFound(err) {
			t.Errorf("after a dry run, get secret: err = %v, want NotFound", err)
		}
	})

	t.Run("RBAC", func(t *testing.T) {
		user := "system:serviceaccount:" + ns + ":" + sa
		if c.canListPods(t, ctx, user, ns) {
			t.Fatalf("SubjectAccessReview: %s may list pods before any Role", user)
		}

		// The same, as the service account itself with a bound token.
		tok := &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(600))},
		}
		if err := core.Post().Namespace(ns).Resource("serviceaccounts").Name(sa).SubResource("token").
			Body(tok).Do(ctx).Into(tok); err != nil {
			t.Fatal(err)
		}
		saCfg := rest.AnonymousClientConfig(cfg)
		saCfg.BearerToken = tok.Status.Token
		asSA := newKubeClient(t, saCfg).rc(corev1.SchemeGroupVersion)
		list := func(resource string) error {
			return asSA.Get().Namespace(ns).Resource(resource).Do(ctx).Error()
		}
		if err := list("pods"); !apierrors.IsForbidden(err) {
			t.Fatalf("list pods as %s before any Role: err = %v, want Forbidden", user, err)
		}

		if err := c.create(ctx, rbacv1.SchemeGroupVersion, ns, "roles", &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"},
			}},
		}); err != nil {
			t.Fatal(err)
		}
		if err := c.create(ctx, rbacv1.SchemeGroupVersion, ns, "rolebindings", &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "worker-pod-reader"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}},
		}); err != nil {
			t.Fatal(err)
		}

		// The authorizer reads RBAC objects from an informer cache: allow
		// a moment for the new binding to arrive.
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true,
			func(context.Context) (bool, error) { return c.canListPods(t, ctx, user, ns), nil }); err != nil {
			t.Fatalf("SubjectAccessReview: %s still may not list pods after the RoleBinding: %v", user, err)
		}
		if err := list("pods"); err != nil {
			t.Errorf("list pods as %s after the RoleBinding: %v", user, err)
		}
		if err := list("secrets"); !apierrors.IsForbidden(err) {
			t.Errorf("list secrets as %s (not granted): err = %v, want Forbidden", user, err)
		}
	})
}
