package reconcile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/redact"
)

const secretFilePools = `set: team
kubernetes:
  namespace: prefect
  external:
    - {kind: Namespace, name: prefect}
  secrets:
    - name: creds
      keys:
        ca.crt: {fromFile: ca.txt}
pools:
  - name: gpu
    type: process
`

// A fromFile value is read once per run, with the safety checks: the
// value load learned for masking is the one the desired state holds, and
// a FIFO is a positioned problem, not a read that blocks.
func TestSecretFilesReadOnce(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pools.yaml")
	if err := os.WriteFile(file, []byte(secretFilePools), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(ca, []byte("first-value-of-the-ca"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := Inputs{File: file, LookupEnv: func(string) (string, bool) { return "", false }, Secrets: &redact.Set{}}
	doc, f, err := in.load()
	if err != nil {
		t.Fatal(err)
	}
	// Changed after load: the run keeps what it read and masks.
	if err := os.WriteFile(ca, []byte("second-value-of-the-ca"), 0o600); err != nil {
		t.Fatal(err)
	}
	want, err := in.build(doc, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range want.SecretData {
		if got := string(data["ca.crt"]); got != "first-value-of-the-ca" {
			t.Errorf("desired value %q, want the one read at load", got)
		}
	}
	if masked, _ := in.Secrets.String("x first-value-of-the-ca x", "[m]"); masked != "x [m] x" {
		t.Errorf("the value read is not masked: %q", masked)
	}

	if err := os.Remove(ca); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(ca, 0o600); err != nil {
		t.Skipf("no FIFO here: %v", err)
	}
	_, err = Plan(context.Background(), Inputs{File: file, LookupEnv: in.LookupEnv})
	var pe *ProblemsError
	if !errors.As(err, &pe) || len(pe.Problems) != 1 {
		t.Fatalf("FIFO: %v, want one problem", err)
	}
	if p := pe.Problems[0].Error(); !strings.Contains(p, "pools.yaml:9:") || !strings.Contains(p, "not a regular file") {
		t.Errorf("FIFO problem: %s", p)
	}
}
