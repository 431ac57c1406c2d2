// Package prefectclient holds the end-to-end tests of internal/prefect
// against a real Prefect server started by test/e2e/servers.
package prefectclient
