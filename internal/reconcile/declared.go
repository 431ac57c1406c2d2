package reconcile

import (
	"strconv"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// Declared returns where the file declares the object of k: a pool, a
// queue (a pool's default queue left out of the file: the pool), a
// Kubernetes manifest or a Secret. ok is false for an object the file does
// not declare, such as one a prune deletes.
func (p *Planned) Declared(k state.Key) (pos config.Pos, ok bool) {
	if p == nil || p.Document == nil || p.File == nil {
		return config.Pos{}, false
	}
	path, ok := declaredPath(p.File, k)
	if !ok {
		return config.Pos{}, false
	}
	return p.Document.KeyPos(path), true
}

// declaredPath is the path in the file of the object of k.
func declaredPath(f *config.File, k state.Key) (config.Path, bool) {
	switch {
	case k.System == state.Prefect && k.Kind == state.KindWorkPool:
		return poolPath(f, k.Name)
	case k.System == state.Prefect && k.Kind == state.KindWorkQueue:
		pool, ok := poolPath(f, k.Namespace)
		if !ok {
			return nil, false
		}
		i, _ := strconv.Atoi(pool[1])
		for j, q := range f.Pools[i].Queues {
			if q.Name == k.Name {
				return pool.Child("queues", strconv.Itoa(j)), true
			}
		}
		return pool, true
	case k.System == state.Kubernetes && f.Kubernetes != nil:
		return kubernetesPath(f.Kubernetes, k)
	}
	return nil, false
}

func poolPath(f *config.File, name string) (config.Path, bool) {
	for i, p := range f.Pools {
		if p.Name == name {
			return config.Path{"pools", strconv.Itoa(i)}, true
		}
	}
	return nil, false
}

// kubernetesPath finds a manifest by kind, name and, when it names one,
// namespace; a Secret among kubernetes.secrets by name and namespace.
func kubernetesPath(k8s *config.Kubernetes, k state.Key) (config.Path, bool) {
	for i, r := range k8s.Resources {
		meta, _ := r["metadata"].(map[string]any)
		ns, _ := meta["namespace"].(string)
		if r["kind"] == k.Kind && meta["name"] == k.Name && (ns == "" || ns == k.Namespace) {
			return config.Path{"kubernetes", "resources", strconv.Itoa(i)}, true
		}
	}
	if k.Kind != "Secret" {
		return nil, false
	}
	for i, s := range k8s.Secrets {
		if s.Name == k.Name && (s.Namespace == "" || s.Namespace == k.Namespace) {
			return config.Path{"kubernetes", "secrets", strconv.Itoa(i)}, true
		}
	}
	return nil, false
}
