// Package reconcile owns one run of prefect-apply: it loads the file,
// builds the desired state, connects to the Prefect server and the cluster,
// reads both at the same time, computes the plan and applies it, writing
// the set's inventory as a step of the apply (before the objects it records
// are created, and again once the results are known).
//
// Every command that reads live state (diff, sync, status, export, saved
// plans) and the pipeline fuzzer go through Plan and Apply; internal/cli
// keeps the flags, the prompts, the output and the exit codes.
package reconcile
