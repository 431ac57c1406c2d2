package prefectsync

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prefect-apply/prefect-apply/test/e2e/clitest"
	"github.com/prefect-apply/prefect-apply/test/e2e/servers"
)

// A server with basic auth: the auth string from the environment (or the
// profile) works; without it, or with a wrong one, diff and sync exit 1
// with a clear 401 message and write nothing; the credential never shows
// in any output.
func TestBasicAuth(t *testing.T) {
	const (
		canary = "admin:CANARY-s3cret-123"
		wrong  = "admin:wrong-CANARY-s3cret-456"
	)
	if testing.Short() {
		t.Skip("starts a real Prefect server")
	}
	p := servers.StartPrefect(t, servers.PrefectOptions{AuthString: canary})
	e := newEnv(t, p, "auth")
	f := e.example("pools.yaml")
	a := e.api()

	// No credential: 401, named as such, nothing created.
	delete(e.Vars, "PREFECT_API_AUTH_STRING")
	for _, args := range [][]string{e.planArgs("diff", f), e.planArgs("sync", f, "--yes")} {
		cmd := args[0]
		code, stdout, stderr := e.Run(args...)
		if code != 1 || !strings.Contains(stderr, "401 Unauthorized") || !strings.Contains(stderr, "no credential was sent") ||
			!strings.Contains(stderr, "PREFECT_API_AUTH_STRING") {
			t.Errorf("%s without a credential: exit %d\nstdout:\n%s\nstderr:\n%s", cmd, code, stdout, stderr)
		}
		if strings.Count(stderr, "Error:") != 1 {
			t.Errorf("%s without a credential: expected one error line:\n%s", cmd, stderr)
		}
	}

	// A wrong credential, from the environment.
	e.Vars["PREFECT_API_AUTH_STRING"] = wrong
	code, stdout, stderr := e.Run(e.planArgs("sync", f, "--yes")...)
	if code != 1 || !strings.Contains(stderr, "401 Unauthorized") || !strings.Contains(stderr, "the server rejected") {
		t.Errorf("sync with a wrong credential: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// A Prefect Cloud key is not what this server wants either.
	delete(e.Vars, "PREFECT_API_AUTH_STRING")
	e.Vars["PREFECT_API_KEY"] = "pnu_CANARY-key-789"
	code, stdout, stderr = e.Run(e.planArgs("diff", f)...)
	if code != 1 || !strings.Contains(stderr, "401 Unauthorized") {
		t.Errorf("diff with an API key: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	delete(e.Vars, "PREFECT_API_KEY")
	for _, pool := range examplePools {
		if _, ok := a.pool(e.pool(pool)); ok {
			t.Errorf("pool %q exists after the unauthenticated runs", pool)
		}
	}

	// The right credential from the environment: sync, diff clean, the
	// JSON and Markdown plans render.
	e.Vars["PREFECT_API_AUTH_STRING"] = canary
	e.diff(2, f)
	e.sync(0, f, "--yes")
	checkExample(t, e)
	e.diff(0, f)
	clitest.ParsePlan(t, e.diff(0, f, "-o", "json"))
	if out := e.diff(0, f, "-o", "markdown"); !strings.Contains(out, "**No changes**") {
		t.Errorf("markdown:\n%s", out)
	}

	// The credential from the active Prefect profile in the home directory
	// (the URL too), with nothing in the environment.
	delete(e.Vars, "PREFECT_API_AUTH_STRING")
	delete(e.Vars, "PREFECT_API_URL")
	prof := filepath.Join(e.Dir, ".prefect", "profiles.toml")
	if err := os.MkdirAll(filepath.Dir(prof), 0o700); err != nil {
		t.Fatal(err)
	}
	toml := "active = \"e2e\"\n\n[profiles.e2e]\nPREFECT_API_URL = \"" + p.URL + "\"\nPREFECT_API_AUTH_STRING = \"" + canary + "\"\n"
	if err := os.WriteFile(prof, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	e.diff(0, f)
	// The environment beats the profile: a wrong auth string there wins.
	e.Vars["PREFECT_API_AUTH_STRING"] = wrong
	if code, _, stderr := e.Run(e.planArgs("diff", f)...); code != 1 || !strings.Contains(stderr, "401") {
		t.Errorf("diff with a wrong auth string in the environment over a right profile: exit %d\n%s", code, stderr)
	}
	delete(e.Vars, "PREFECT_API_AUTH_STRING")
	if err := os.Remove(prof); err != nil {
		t.Fatal(err)
	}

	// Credentials in the URL's userinfo are not printed either.
	e.Vars["PREFECT_API_URL"] = strings.Replace(p.URL, "http://", "http://"+canary+"@", 1)
	code, stdout, stderr = e.Run(e.planArgs("diff", f)...)
	t.Logf("diff with the auth string as URL userinfo: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	e.Vars["PREFECT_API_URL"] = p.URL

	secrets := []string{
		canary, "CANARY-s3cret-123", wrong, "wrong-CANARY-s3cret-456", "CANARY-key-789",
		base64.StdEncoding.EncodeToString([]byte(canary)), base64.StdEncoding.EncodeToString([]byte(wrong)),
	}
	for _, s := range secrets {
		if strings.Contains(e.Output.String(), s) {
			t.Errorf("prefect-apply printed the credential %q", s)
		}
	}
	if strings.Contains(e.Output.String(), "CANARY") {
		t.Errorf("prefect-apply printed part of a credential:\n%s", e.Output.String())
	}
}
