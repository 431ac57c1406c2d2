package servers

import (
	"testing"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Config returns a client configuration for the admin user of Kubeconfig,
// with client-go's rate limit (5 requests a second) raised so that it does
// not dominate the tests.
func (k *Kube) Config(tb testing.TB) *rest.Config {
	tb.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", k.Kubeconfig)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	return cfg
}

// Clientset returns a typed client of the admin user.
func (k *Kube) Clientset(tb testing.TB) kubernetes.Interface {
	tb.Helper()
	cs, err := kubernetes.NewForConfig(k.Config(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return cs
}

// Dynamic returns a dynamic client of the admin user.
func (k *Kube) Dynamic(tb testing.TB) dynamic.Interface {
	tb.Helper()
	dyn, err := dynamic.NewForConfig(k.Config(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return dyn
}
