package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// echoPrefect fails every pool create with a message that quotes the
// pool, as a server's validation error may.
type echoPrefect struct{ *memPrefect }

func (e echoPrefect) CreatePool(_ context.Context, p *state.Pool) error {
	return fmt.Errorf("422 Unprocessable Entity: invalid pool %q (description %q)", p.Name, *p.Description)
}

const (
	maskAuth  = "admin:mask-canary-auth-31"
	maskToken = "mask-canary-token-77"
	maskFile  = "mask-canary-file-19"
	// shortSecret is shorter than redact.MinLength: never looked for.
	shortSecret = "prefect"
)

// maskedPools is a pools file that holds secrets as literal text: validate
// cannot tell them from other text, so only masking keeps them out of
// what prefect-apply prints.
const maskedPools = `set: team
kubernetes:
  namespace: prefect
  resources:
    - {apiVersion: v1, kind: Namespace, metadata: {name: prefect}}
  secrets:
    - name: creds
      keys:
        token: {fromEnv: MASK_TOKEN}
        short: {fromEnv: SHORT}
        ca.crt: {fromFile: ca.txt}
pools:
  - name: gpu
    type: kubernetes
    description: "token ` + maskToken + ` and ` + maskFile + `"
    jobTemplate:
      env:
        - {name: LOGIN, value: "` + maskAuth + `"}
`

func maskWorld(t *testing.T) (*memWorld, string) {
	w := newMemWorld(t)
	w.vars["PREFECT_API_AUTH_STRING"] = maskAuth
	w.vars["MASK_TOKEN"] = maskToken
	w.vars["SHORT"] = shortSecret
	w.write("ca.txt", maskFile+"\n")
	return w, w.write("pools.yaml", maskedPools)
}

func checkNoSecret(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range []string{maskAuth, "mask-canary"} {
		if strings.Contains(out, s) {
			t.Errorf("%s shows the secret %q:\n%s", what, s, out)
		}
	}
}

func TestSecretsAreMaskedInPlans(t *testing.T) {
	w, file := maskWorld(t)
	saved := filepath.Join(w.dir, "plan.json")
	outputs := map[string][]string{
		"text":     {"diff", "-f", file},
		"json":     {"diff", "-f", file, "-o", "json"},
		"markdown": {"diff", "-f", file, "-o", "markdown"},
		"--out":    {"diff", "-f", file, "--out", saved},
	}
	for name, args := range outputs {
		out, errOut := w.mustRun(ExitChanges, args...)
		checkNoSecret(t, name, out+errOut)
		if !strings.Contains(out, `token (sensitive value) and (sensitive value)`) {
			t.Errorf("%s: the description is not masked:\n%s", name, out)
		}
		// A value shorter than redact.MinLength is not looked for: the
		// namespace is still called prefect.
		if name == "text" && !strings.Contains(out, `namespace: "prefect"`) {
			t.Errorf("%s: a short secret masked ordinary text:\n%s", name, out)
		}
	}
	raw, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	checkNoSecret(t, "the saved plan", string(raw))
	if !strings.Contains(string(raw), `"LOGIN": "(sensitive value)"`) {
		t.Errorf("the saved plan does not mask the env value:\n%s", raw)
	}
	// The saved plan, masked, is the plan computed again: it applies, and
	// what is sent is the file as written.
	out, errOut := w.mustRun(ExitOK, "sync", "-f", file, "--plan", saved, "--yes")
	checkNoSecret(t, "sync --plan", out+errOut)
	p := w.prefect.pools["gpu"]
	if p == nil || *p.Description != "token "+maskToken+" and "+maskFile {
		t.Fatalf("pool on the server: %+v", p)
	}
	w.mustRun(ExitOK, "diff", "-f", file)
}

func TestSecretsAreMaskedInErrors(t *testing.T) {
	w, file := maskWorld(t)
	env := w.env()
	env.NewPrefect = func(prefect.Connection) (PrefectClient, error) { return echoPrefect{w.prefect}, nil }
	ios, _, out, errOut := Test()
	code := Run(context.Background(), ios, env, []string{"sync", "-f", file, "--yes"})
	if code != ExitFailure || !strings.Contains(out.String(), `(description "token [redacted] and [redacted]")`) {
		t.Errorf("sync against a server that echoes the pool: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	checkNoSecret(t, "sync's report", out.String()+errOut.String())

	// A validation problem that quotes a value.
	bad := w.write("bad.yaml", strings.Replace(maskedPools, "      env:", "      resources:\n        requests: {cpu: \""+maskToken+"\"}\n      env:", 1))
	code, stdout, stderr := w.run("validate", "-f", bad)
	if code != ExitFailure || !strings.Contains(stderr, `pools[0].jobTemplate.resources.requests.cpu: "[redacted]" is not a quantity`) {
		t.Errorf("validate: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	checkNoSecret(t, "validate", stdout+stderr)
	for _, format := range []string{"json", "github"} {
		code, stdout, stderr := w.run("validate", "-f", bad, "-o", format)
		if code != ExitFailure || !strings.Contains(stdout, `\"[redacted]\" is not a quantity`) && !strings.Contains(stdout, `: "[redacted]" is not a quantity`) {
			t.Errorf("validate -o %s: exit %d\nstdout:\n%s\nstderr:\n%s", format, code, stdout, stderr)
		}
		checkNoSecret(t, "validate -o "+format, stdout+stderr)
	}
}

func TestRenderMasksAndFails(t *testing.T) {
	w, file := maskWorld(t)
	code, out, errOut := w.run("render", "-f", file, "gpu")
	checkNoSecret(t, "render", out+errOut)
	if code != ExitFailure || !strings.Contains(out, `"LOGIN": "(sensitive value)"`) ||
		!strings.Contains(errOut, `at /variables/properties/env/default/LOGIN; the output is not what sync would send`) {
		t.Errorf("render: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// Without the secret in the environment, it is not known: rendered as
	// written, exit 0 (validate has no way to tell it from other text).
	delete(w.vars, "PREFECT_API_AUTH_STRING")
	code, out, _ = w.run("render", "-f", file, "gpu")
	if code != ExitOK || !strings.Contains(out, `"LOGIN": "`+maskAuth+`"`) {
		t.Errorf("render without the credential set: exit %d\n%s", code, out)
	}
}
