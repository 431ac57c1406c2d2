package redact

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLooksSecret(t *testing.T) {
	for name, want := range map[string]bool{
		"PREFECT_API_KEY": true, "PREFECT_API_AUTH_STRING": true, "DB_PASSWORD": true, "db_password": true,
		"AWS_SECRET_ACCESS_KEY": true, "GITHUB_TOKEN": true, "SSH_KEY": true, "GCP_CREDENTIALS": true, "MY_APIKEY": true,
		"PREFECT_API_URL": false, "AWS_ACCESS_KEY_ID": false, "KEYCLOAK_URL": false, "PATH": false, "HOME": false,
	} {
		if got := LooksSecret(name); got != want {
			t.Errorf("LooksSecret(%q) = %v, want %v", name, got, want)
		}
	}
}

// The README lists the names LooksSecret takes for secrets.
func TestREADMEListsTheSecretNames(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range append(append([]string{}, SecretNameParts...), SecretNameSuffixes...) {
		if !strings.Contains(string(raw), "`"+n+"`") {
			t.Errorf("README.md does not list %s", n)
		}
	}
}
