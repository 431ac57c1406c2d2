package kube

import (
	"flag"
	"io"

	"k8s.io/klog/v2"
)

// client-go logs through klog to stderr ("E1127 ... Unexpected error when
// reading response body"), next to prefect-apply's own report of the same
// failure, which it returns as an error. Its lines are dropped.
func init() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("alsologtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
}
