package prefect

import (
	"encoding/base64"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// CredentialValues finds the credential Resolve would send, without a URL,
// in every form SecretValues gives for the resolved connection.
func TestCredentialValues(t *testing.T) {
	home := t.TempDir()
	writeProfiles(t, filepath.Join(home, ".prefect"), "active = \"p\"\n[profiles.p]\nPREFECT_API_KEY = \"pnu_profile-key\"\n")
	env := map[string]string{
		"PREFECT_API_AUTH_STRING":       "admin:env-pass",
		"PREFECT_CLIENT_CUSTOM_HEADERS": `{"X-Token": "header-token"}`,
	}
	got := CredentialValues(ResolveInput{Getenv: envOf(env), HomeDir: home})
	basic := base64.StdEncoding.EncodeToString([]byte("admin:env-pass"))
	want := []string{"Basic " + basic, basic, "admin:env-pass", "env-pass", "Bearer pnu_profile-key", "pnu_profile-key", "header-token"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CredentialValues = %q\nwant %q", got, want)
	}
	env["PREFECT_API_URL"] = "http://x/api"
	conn, err := Resolve(ResolveInput{Getenv: envOf(env), HomeDir: home})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range conn.SecretValues() {
		if !slices.Contains(got, v) {
			t.Errorf("the resolved connection sends %q, which CredentialValues misses", v)
		}
	}
	// Broken settings give what can be read, never an error.
	env["PREFECT_CLIENT_CUSTOM_HEADERS"] = "not json header-token"
	writeProfiles(t, filepath.Join(home, ".prefect"), "not toml [")
	got = CredentialValues(ResolveInput{Getenv: envOf(env), HomeDir: home})
	want = []string{"Basic " + basic, basic, "admin:env-pass", "env-pass", "not json header-token", "json header-token"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CredentialValues with broken settings = %q\nwant %q", got, want)
	}
}
