// Package prefect tests diff and sync end to end against a real Prefect
// server (installed from PyPI and started by test/e2e/servers): the
// command runs in-process through cli.Run with an injected environment, and
// every claim is checked by reading the server back over plain HTTP, by
// counting the requests that reach it, or by running the installed
// prefect-kubernetes worker code on what was stored. Only the Prefect half
// is exercised (--skip-kubernetes).
//
// One server is shared by the package (TestMain); each test uses its own
// ownership set and its own pool names, so tests cannot see each other's
// objects. The basic-auth test starts a second server of its own.
package prefect
