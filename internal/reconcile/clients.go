package reconcile

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/prefect-apply/prefect-apply/internal/apply"
	"github.com/prefect-apply/prefect-apply/internal/inventory"
	"github.com/prefect-apply/prefect-apply/internal/kube"
	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// PrefectClient is what a run needs of a Prefect server.
type PrefectClient interface {
	apply.Prefect
	inventory.Store
	ReadState(ctx context.Context) (*state.State, error)
	// ReadDependents reads the deployments that target the pools and
	// the counts of their active flow runs.
	ReadDependents(ctx context.Context, pools []string) (*state.Dependents, error)
	Stats() map[string]int
	// Overloads counts the answers that said the server was overloaded.
	Overloads() int64
}

// KubeClient is what a run needs of a cluster.
type KubeClient interface {
	apply.Kubernetes
	// ReadLive lists namespaced kinds in namespaces, or across the cluster
	// when it is nil.
	ReadLive(ctx context.Context, set string, declared []state.Key, namespaces []string) (map[state.Key]*unstructured.Unstructured, error)
	Predict(ctx context.Context, existing, created []*unstructured.Unstructured, data map[state.Key]map[string][]byte) (*kube.DryRun, error)
	Get(ctx context.Context, key state.Key) (*unstructured.Unstructured, bool, error)
	Stats() map[string]int
	// Overloads counts the answers that said the server was overloaded.
	Overloads() int64
}

// Connect builds the clients a run talks through: the one place they are
// made. Tests put in-memory servers behind it.
type Connect struct {
	Prefect func(conn prefect.Connection) (PrefectClient, error)
	Kube    func(opts kube.Options) (KubeClient, error)
}

// RealClients connects to real servers; userAgent names the client in the
// Prefect server's logs.
func RealClients(userAgent string) Connect {
	return Connect{
		Prefect: func(c prefect.Connection) (PrefectClient, error) {
			return prefect.New(c, prefect.Options{UserAgent: userAgent})
		},
		Kube: func(o kube.Options) (KubeClient, error) { return kube.New(o) },
	}
}

// WithDefaults fills in the real client for each one c leaves nil.
func (c Connect) WithDefaults(userAgent string) Connect {
	real := RealClients(userAgent)
	if c.Prefect == nil {
		c.Prefect = real.Prefect
	}
	if c.Kube == nil {
		c.Kube = real.Kube
	}
	return c
}
