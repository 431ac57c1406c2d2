package schemagen

import (
	"bytes"
	"fmt"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// KindsDoc returns docs/kinds.md: the kinds of state.Kinds, for readers
// and for whoever writes the RBAC prefect-apply runs with.
func KindsDoc() []byte {
	var b bytes.Buffer
	b.WriteString(`# Kubernetes kinds

<!-- Generated from internal/state/kinds.go by ` + "`make generate`" + `; do not edit. -->

The Kubernetes kinds prefect-apply manages. ` + "`sync`" + ` applies them by rank,
lowest first (the kinds of one rank together), then work pools, then work
queues; deletions run in reverse. To find a set's Kubernetes objects,
` + "`diff`" + ` and ` + "`sync`" + ` list every kind below by the ownership labels (the
namespaced ones in the namespaces the set uses), so the identity they run
as needs ` + "`list`" + ` on each resource (see
[` + "`examples/cronjob`" + `](../examples/cronjob/README.md)).

| rank | kind | apiVersion | resource | scope | declared under |
|---|---|---|---|---|---|
`)
	for _, k := range state.Kinds {
		scope := "namespaced"
		if k.Scope == state.ClusterScoped {
			scope = "cluster"
		}
		where := "`kubernetes.resources`"
		if !k.Manifest { // a Secret: its own section, named like its resource
			where = "`kubernetes." + k.Resource + "`"
		}
		if k.External {
			where += ", or `kubernetes.external` when managed elsewhere"
		}
		fmt.Fprintf(&b, "| %d | %s | `%s` | `%s` | %s | %s |\n", k.Rank, k.Kind, k.APIVersion(), k.Resource, scope, where)
	}
	return b.Bytes()
}
