//go:build tools

// Package tools pins the etcd main package (the root package of
// go.etcd.io/etcd/server/v3, a thin wrapper around etcdmain.Main) so that
// `go build go.etcd.io/etcd/server/v3` resolves from this module.
package tools

import _ "go.etcd.io/etcd/server/v3"
