package reconcile

import (
	"bytes"
	"context"
	"fmt"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/export"
	"github.com/prefect-apply/prefect-apply/internal/inventory"
	"github.com/prefect-apply/prefect-apply/internal/kube"
)

// ExportOptions are export's choices.
type ExportOptions struct {
	// Name is the file's name, for its comments and for Verify's
	// positions.
	Name string
	// Pools names the pools to export; empty for all.
	Pools []string
	// Kubernetes reads the objects the job templates use from the cluster.
	Kubernetes bool
	// Written says the export goes to the file Name: with no --set, the
	// set is then Name's default one.
	Written bool
}

// Exported is a pools.yaml written from the live state.
type Exported struct {
	YAML []byte
	File *config.File
	// Warnings say what could not be exported as it is, and which pools
	// other sets own.
	Warnings []string
	// Problems are where the file does not reproduce the live state: a
	// fault of export.
	Problems []string
	// Changes are what export chose to change, which the first sync
	// applies: secret values moved from the templates to Secrets.
	Changes []string
	// Refused are the validation problems left where a secret value could
	// only be written as ${VAR} and validate refuses that (a Prefect
	// credential in a template); the warnings say what to do.
	Refused []string
}

// Export reads the live pools and queues (and, with opts.Kubernetes, the
// objects their jobs use) and writes a pools.yaml that describes them,
// checked by planning it against what was read.
func Export(ctx context.Context, in Inputs, opts ExportOptions) (*Exported, error) {
	client, err := ConnectPrefect(in, "")
	if err != nil {
		return nil, err
	}
	live, err := client.ReadState(ctx)
	if err != nil {
		return nil, err
	}
	var kc export.Kube
	if opts.Kubernetes {
		if kc, err = in.exportKube(); err != nil {
			return nil, err
		}
	}
	set := in.Set
	if set == "" && opts.Written {
		set = config.DefaultSet(opts.Name)
	}
	// What other sets own is named in a warning: adopting the file would
	// take it from them.
	inventories, err := inventory.LoadAll(ctx, client, set)
	if err != nil {
		return nil, err
	}
	e, err := export.Build(ctx, live, kc, export.Options{Set: set, Pools: opts.Pools, Kubernetes: opts.Kubernetes, Owners: inventories.OwnersOf})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := export.Encode(&buf, e, opts.Name); err != nil {
		return nil, err
	}
	check, err := export.Verify(buf.Bytes(), opts.Name, live, e)
	if err != nil {
		return nil, err
	}
	return &Exported{YAML: buf.Bytes(), File: e.File, Warnings: e.Warnings,
		Problems: check.Problems, Changes: check.Changes, Refused: check.Refused}, nil
}

// exportKube connects to the cluster as diff and sync do.
func (in *Inputs) exportKube() (export.Kube, error) {
	kc, err := in.Connect.WithDefaults(userAgent).Kube(kube.Options{Kubeconfig: in.Kubeconfig, KubeconfigEnv: in.getenv("KUBECONFIG"), HomeDir: in.HomeDir, Context: in.KubeContext})
	if err != nil {
		return nil, err
	}
	ek, ok := kc.(export.Kube)
	if !ok {
		return nil, fmt.Errorf("the Kubernetes client cannot list objects")
	}
	return ek, nil
}
