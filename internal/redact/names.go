package redact

import (
	"strings"

	"github.com/prefect-apply/prefect-apply/internal/config"
)

// Secret-looking names. An environment variable (or a template variable)
// is taken for a secret when its name, upper-cased, is one of
// config.CredentialVars (PREFECT_API_KEY, PREFECT_API_AUTH_STRING),
// contains one of SecretNameParts, or ends with one of
// SecretNameSuffixes. export never writes the value of such a name into
// the file it produces, and a plan never shows it. README.md
// ("Adopting") lists the same names.
var (
	SecretNameParts    = []string{"PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIAL", "APIKEY", "PRIVATE_KEY", "AUTH_STRING"}
	SecretNameSuffixes = []string{"_KEY"}
)

// LooksSecret reports whether an environment variable of that name holds
// a secret, by its name alone.
func LooksSecret(name string) bool {
	up := strings.ToUpper(name)
	for _, v := range config.CredentialVars {
		if up == v {
			return true
		}
	}
	for _, p := range SecretNameParts {
		if strings.Contains(up, p) {
			return true
		}
	}
	for _, s := range SecretNameSuffixes {
		if strings.HasSuffix(up, s) {
			return true
		}
	}
	return false
}
