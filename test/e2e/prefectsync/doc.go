// Package prefectsync tests diff and sync end to end against a real Prefect
// server (installed from PyPI and started by hack/prefect through
// test/e2e/servers): the command runs in-process through test/e2e/clitest
// with an environment of the test's own, and every claim is checked by
// reading the server back over plain HTTP (servers.Prefect.Request), by
// counting the requests that reach it (servers.Prefect.Record), or by
// running the installed prefect-kubernetes worker code on what was stored.
// Only the Prefect half is exercised (--skip-kubernetes).
//
// One server is shared by the package (TestMain); each test uses its own
// ownership set and its own pool names, so tests cannot see each other's
// objects. The basic-auth test starts a second server of its own.
package prefectsync
