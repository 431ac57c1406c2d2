package cli

import (
	"maps"
	"slices"
	"strconv"

	"github.com/prefect-apply/prefect-apply/internal/prefect"
)

// Every secret value a run knows is masked in what it prints: the Prefect
// credential (PREFECT_API_AUTH_STRING, PREFECT_API_KEY, custom headers;
// from the environment or the profile) and the values the file's Secrets
// read (fromEnv, fromFile). validate refuses a ${VAR} of any of them, so
// this catches what validate cannot see: a secret pasted into the file as
// text, a live object that holds one, a server that echoes one back.
//
// Plans are masked once, as computed (reconcile.Plan): the text, JSON and
// Markdown renderings, the saved plan (--out) and the comparison sync
// --plan makes all show the masked plan. What sync sends is not masked.
// Messages are masked where they are printed: Run's error, validation
// problems, sync's progress lines. render masks and then fails (see
// renderRun).

// redactedText replaces a secret value in a message, as the Prefect and
// Kubernetes clients do in the errors they make.
const redactedText = "[redacted]"

// mask replaces the known secret values in a message.
func (s *IOStreams) mask(text string) string {
	out, _ := s.secrets.String(text, redactedText)
	return out
}

// learnCredentials records the Prefect credential a command would use.
func learnCredentials(ios *IOStreams, env *Env) {
	ios.secrets.Add(prefect.CredentialValues(prefect.ResolveInput{Getenv: env.getenv, HomeDir: env.HomeDir})...)
}

// changedPaths lists the paths, as JSON pointers, of the strings and keys
// that differ between a value and its masked copy.
func changedPaths(orig, masked any, at string) []string {
	switch o := orig.(type) {
	case map[string]any:
		m, ok := masked.(map[string]any)
		if !ok {
			return []string{orEmpty(at)}
		}
		var out []string
		for _, k := range slices.Sorted(maps.Keys(o)) {
			v, ok := m[k]
			if !ok {
				out = append(out, orEmpty(at+"/"+k))
				continue
			}
			out = append(out, changedPaths(o[k], v, at+"/"+k)...)
		}
		return out
	case []any:
		m, ok := masked.([]any)
		if !ok || len(m) != len(o) {
			return []string{orEmpty(at)}
		}
		var out []string
		for i := range o {
			out = append(out, changedPaths(o[i], m[i], at+"/"+strconv.Itoa(i))...)
		}
		return out
	case string:
		if m, ok := masked.(string); !ok || m != o {
			return []string{orEmpty(at)}
		}
	}
	return nil
}

func orEmpty(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
