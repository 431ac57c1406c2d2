package cli

import (
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/plan"
	"github.com/prefect-apply/prefect-apply/internal/prefect"
	"github.com/prefect-apply/prefect-apply/internal/redact"
)

// Every secret value a run knows is masked in what it prints: the Prefect
// credential (PREFECT_API_AUTH_STRING, PREFECT_API_KEY, custom headers;
// from the environment or the profile) and the values the file's Secrets
// read (fromEnv, fromFile). validate refuses a ${VAR} of any of them, so
// this catches what validate cannot see: a secret pasted into the file as
// text, a live object that holds one, a server that echoes one back.
//
// Plans are masked once, as computed (computePlan): the text, JSON and
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

// learnFileSecrets records the values the file's Secrets read, as far as
// they can be read now: a variable that is not set or a file that cannot
// be read holds nothing to mask (desired.Build reports it, if it must).
func learnFileSecrets(ios *IOStreams, doc *config.Document, lookup func(string) (string, bool)) {
	vars, files := doc.SecretSources()
	for _, name := range vars {
		if v, ok := lookup(name); ok {
			ios.secrets.Add(v)
		}
	}
	for _, name := range files {
		if !filepath.IsAbs(name) {
			name = filepath.Join(doc.Dir, name)
		}
		// Regular files only: validate, offline, must not block on a
		// FIFO or read a device.
		if fi, err := os.Stat(name); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		raw, err := io.ReadAll(io.LimitReader(f, config.MaxFileSize))
		f.Close()
		if err == nil {
			ios.secrets.Add(string(raw))
		}
	}
}

// redactPlan masks the known secret values in a plan's field values and
// paths and in its reasons and problems, in place, with plan.Masked. Secret data is
// masked already; what the applier sends (Pool, Queue, Object, Patch) is
// left as it is.
func redactPlan(p *plan.Plan, s *redact.Set) {
	if s.Len() == 0 {
		return
	}
	m := s.Masker(plan.Masked)
	for i := range p.Changes {
		c := &p.Changes[i]
		c.Reason, _ = m.String(c.Reason)
		c.Problem, _ = m.String(c.Problem)
		for j := range c.Fields {
			f := &c.Fields[j]
			f.Path, _ = m.String(f.Path)
			if f.Sensitive {
				continue
			}
			f.Old, _ = m.Value(f.Old)
			f.New, _ = m.Value(f.New)
		}
	}
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
		for _, k := range sortedMapKeys(o) {
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

func sortedMapKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
