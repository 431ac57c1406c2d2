package reconcile

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/prefect-apply/prefect-apply/internal/config"
	"github.com/prefect-apply/prefect-apply/internal/desired"
	"github.com/prefect-apply/prefect-apply/internal/redact"
	"github.com/prefect-apply/prefect-apply/internal/state"
)

// ProblemsError is a file that cannot be planned: each problem carries its
// position and path; Error says what it means for the run.
type ProblemsError struct {
	Problems config.Problems
	Summary  string
}

func (e *ProblemsError) Error() string { return e.Summary }

// Load parses and validates a pools.yaml. The values its Secrets read are
// added to secrets (when not nil) as soon as the file is parsed, so that
// even its problems are masked.
func Load(name string, lookup func(string) (string, bool), secrets *redact.Set) (*config.Document, *config.File, config.Problems) {
	doc, probs := config.LoadFile(name, config.Options{LookupEnv: lookup})
	if doc != nil && secrets != nil {
		LearnFileSecrets(secrets, doc, lookup)
	}
	return validated(doc, probs)
}

func validated(doc *config.Document, probs config.Problems) (*config.Document, *config.File, config.Problems) {
	if len(probs) > 0 {
		probs.Sort()
		return nil, nil, probs
	}
	f, probs := doc.Validate()
	return doc, f, probs
}

// load is Load with the run's --set, as an error; it keeps the Secret
// files it read for build.
func (in *Inputs) load() (*config.Document, *config.File, error) {
	doc, probs := config.LoadFile(in.File, config.Options{LookupEnv: in.lookup()})
	if doc != nil {
		secrets := in.Secrets
		if secrets == nil {
			secrets = &redact.Set{}
		}
		in.files = LearnFileSecrets(secrets, doc, in.lookup())
	}
	doc, file, probs := validated(doc, probs)
	if len(probs) > 0 {
		return nil, nil, &ProblemsError{Problems: probs,
			Summary: fmt.Sprintf("%s: %d problem%s; nothing was read or changed", in.File, len(probs), plural(len(probs)))}
	}
	if in.Set != "" {
		if !config.ValidSet(in.Set) {
			return nil, nil, fmt.Errorf("--set %q: a set name is lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters; nothing was read or changed", in.Set)
		}
		file.Set = in.Set
	}
	return doc, file, nil
}

// build is the file's desired state, its Secret values read; a value that
// cannot be read is a problem at the line that names it.
func (in *Inputs) build(doc *config.Document, file *config.File) (*state.State, error) {
	want, err := desired.Build(file, desired.Options{LookupEnv: in.lookup(), Dir: doc.Dir, SkipKubernetes: in.SkipKubernetes, ReadFile: in.files.Read})
	var se *desired.SecretError
	if errors.As(err, &se) {
		path := config.Path{"kubernetes", "secrets", strconv.Itoa(se.Index), "keys", se.Key, se.Source}
		prob := config.Problem{File: in.File, Pos: doc.Pos(path), Path: path, Message: se.Err.Error(),
			Hint: "diff and sync read Secret values, to compare them with the cluster's and to apply them; validate and --skip-kubernetes read none"}
		return nil, &ProblemsError{Problems: config.Problems{prob},
			Summary: fmt.Sprintf("%s: a Secret value could not be read; nothing was read or changed", in.File)}
	}
	return want, err
}

// LearnFileSecrets adds the values the file's Secrets read to secrets, as
// far as they can be read now: a variable that is not set or a file that
// cannot be read holds nothing to mask (desired.Build reports it, if it
// must). It returns the files as read, by path, for desired.Build to take
// instead of reading them again.
func LearnFileSecrets(secrets *redact.Set, doc *config.Document, lookup func(string) (string, bool)) SecretFiles {
	vars, files := doc.SecretSources()
	for _, name := range vars {
		if v, ok := lookup(name); ok {
			secrets.Add(v)
		}
	}
	read := SecretFiles{}
	for _, name := range files {
		if !filepath.IsAbs(name) {
			name = filepath.Join(doc.Dir, name)
		}
		raw, err := config.ReadSecretFile(name)
		read[name] = secretFile{raw, err}
		if err == nil {
			secrets.Add(string(raw))
		}
	}
	return read
}

// SecretFiles are the fromFile values of a file, read once, by path.
type SecretFiles map[string]secretFile

type secretFile struct {
	data []byte
	err  error
}

// Read is desired.Options.ReadFile: the value read before, else read now.
func (s SecretFiles) Read(path string) ([]byte, error) {
	if f, ok := s[path]; ok {
		return f.data, f.err
	}
	return config.ReadSecretFile(path)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
