package plan

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/prefect-apply/prefect-apply/internal/state"
)

// A saved plan is what `diff --out` writes and `sync --plan` applies: the
// plan, plus what it was computed from, so that applying it can refuse
// when anything changed since. It holds no secret value.
const (
	SavedKind    = "prefect-apply/saved-plan"
	SavedVersion = 1
)

// Secret values are compared through a salted, slow digest (see
// docs/plan-json.md): PBKDF2-HMAC-SHA256 with a random salt per plan.
// Version 1 fixes the parameters, so a plan file cannot lower them.
const (
	DigestAlgorithm  = "PBKDF2-HMAC-SHA256"
	DigestIterations = 100_000
	digestSaltBytes  = 32
)

// Saved is a saved plan document.
type Saved struct {
	Kind    string `json:"kind"`
	Version int    `json:"version"`
	// CreatedAt says when the plan was made (RFC 3339); informative only.
	CreatedAt string        `json:"createdAt,omitempty"`
	Source    SavedSource   `json:"source"`
	Set       string        `json:"set"`
	Options   SavedOptions  `json:"options"`
	Digest    DigestParams  `json:"secretDigest"`
	Changes   []SavedChange `json:"changes"`
}

// SavedSource identifies the file the plan was made from.
type SavedSource struct {
	// File is the path given to -f, for messages.
	File string `json:"file"`
	// SHA256 is the hex SHA-256 of the file's bytes.
	SHA256 string `json:"sha256"`
}

// SavedOptions are the flags that shaped the plan; sync --plan uses them.
type SavedOptions struct {
	Prune          bool `json:"prune"`
	Adopt          bool `json:"adopt"`
	SkipKubernetes bool `json:"skipKubernetes"`
	// ForceConflicts: the plan takes over the fields other field managers
	// own, so sync --plan applies it with --force-conflicts.
	ForceConflicts bool `json:"forceConflicts,omitempty"`
	// AllowOrphaning: the plan deletes or replaces pools or queues that
	// deployments target, as reviewed (--allow-orphaning).
	AllowOrphaning bool `json:"allowOrphaning,omitempty"`
}

// DigestParams say how the secret digests were made.
type DigestParams struct {
	Algorithm  string `json:"algorithm"`
	Iterations int    `json:"iterations"`
	// Salt is random, base64, one per plan.
	Salt string `json:"salt"`
}

// SavedChange is a change as the plan shows it, plus what identifies the
// live object and the desired secret values it was computed with.
type SavedChange struct {
	Change
	// Live is the SHA-256 of the live Prefect object's own settings (id,
	// type, description, paused, concurrency limit, priority, job
	// template): Prefect's `updated` moves each time a worker polls a
	// queue, so it cannot tell a changed object. Kubernetes objects are
	// identified by their resourceVersion (Fingerprint).
	Live string `json:"live,omitempty"`
	// Secrets holds, for a Secret, one digest per data key of the desired
	// values.
	Secrets map[string]string `json:"secrets,omitempty"`
}

// SealInput is what a saved plan records besides the plan.
type SealInput struct {
	Source  SavedSource
	Options SavedOptions
	// Salt keys the secret digests: random for a new plan, the saved
	// plan's when checking it.
	Salt []byte
	// Live is the live state the plan was computed from.
	Live *state.State
	// SecretData are the desired Secret values (never written).
	SecretData map[state.Key]map[string][]byte
	CreatedAt  string
}

// checkSalt checks a salt's length.
func checkSalt(salt []byte) error {
	if len(salt) != digestSaltBytes {
		return fmt.Errorf("secret digest salt: %d bytes, want %d", len(salt), digestSaltBytes)
	}
	return nil
}

// Seal turns a plan into a saved plan. It is pure: the caller brings the
// random salt.
func Seal(p *Plan, in SealInput) (*Saved, error) {
	if err := checkSalt(in.Salt); err != nil {
		return nil, err
	}
	s := &Saved{
		Kind: SavedKind, Version: SavedVersion, CreatedAt: in.CreatedAt,
		Source: in.Source, Set: p.Set, Options: in.Options,
		Digest:  DigestParams{Algorithm: DigestAlgorithm, Iterations: DigestIterations, Salt: base64.StdEncoding.EncodeToString(in.Salt)},
		Changes: make([]SavedChange, len(p.Changes)),
	}
	var jobs []digestJob
	for i, c := range p.Changes {
		sc := SavedChange{Change: c}
		sc.Pool, sc.Queue, sc.Object, sc.Updates = nil, nil, nil, 0
		sc.Live = liveDigest(c.Key, in.Live)
		if data := in.SecretData[c.Key]; len(data) > 0 {
			sc.Secrets = make(map[string]string, len(data))
			for k, v := range data {
				jobs = append(jobs, digestJob{change: i, dataKey: k, value: v})
			}
		}
		s.Changes[i] = sc
	}
	secretDigests(in.Salt, s.Changes, jobs)
	return s, nil
}

type digestJob struct {
	change  int
	dataKey string
	value   []byte
	digest  string
}

// secretDigests fills the Secrets maps, one PBKDF2 per value, on every CPU.
func secretDigests(salt []byte, changes []SavedChange, jobs []digestJob) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func(j *digestJob) {
			defer func() { <-sem; wg.Done() }()
			j.digest = secretDigest(salt, changes[j.change].Key, j.dataKey, j.value)
		}(&jobs[i])
	}
	wg.Wait()
	for _, j := range jobs {
		changes[j.change].Secrets[j.dataKey] = j.digest
	}
}

// secretDigest binds the value to the plan (salt), the Secret and the data
// key, so equal values in two places or two plans digest differently.
func secretDigest(salt []byte, key state.Key, dataKey string, value []byte) string {
	s := make([]byte, 0, len(salt)+len(key.String())+len(dataKey)+2)
	s = append(s, salt...)
	s = append(s, 0)
	s = append(s, key.String()...)
	s = append(s, 0)
	s = append(s, dataKey...)
	d, err := pbkdf2.Key(sha256.New, string(value), s, DigestIterations, sha256.Size)
	if err != nil {
		// Only out-of-range parameters fail, and these are constants.
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(d)
}

// liveDigest hashes a live Prefect object's settings, without the fields
// the server maintains (updated, status). "" when the object is not live.
func liveDigest(key state.Key, live *state.State) string {
	if live == nil || key.System != state.Prefect {
		return ""
	}
	var v any
	switch key.Kind {
	case state.KindWorkPool:
		p, ok := live.Pools[key.Name]
		if !ok {
			return ""
		}
		c := *p
		c.Updated, c.Status, c.Requires = "", "", nil
		v = c
	case state.KindWorkQueue:
		q, ok := live.Queues[key]
		if !ok {
			return ""
		}
		c := *q
		c.Updated = ""
		v = c
	default:
		return ""
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Salt returns the saved plan's digest salt, checking the parameters.
func (s *Saved) Salt() ([]byte, error) {
	if s.Digest.Algorithm != DigestAlgorithm || s.Digest.Iterations != DigestIterations {
		return nil, fmt.Errorf("secret digests made with %s × %d, want %s × %d", s.Digest.Algorithm, s.Digest.Iterations, DigestAlgorithm, DigestIterations)
	}
	salt, err := base64.StdEncoding.DecodeString(s.Digest.Salt)
	if err != nil {
		return nil, fmt.Errorf("secret digest salt: %w", err)
	}
	return salt, checkSalt(salt)
}

// Mismatch is one object whose plan differs from the saved one.
type Mismatch struct {
	Key    state.Key
	Reason string
}

func (m Mismatch) String() string { return m.Key.String() + ": " + m.Reason }

// Compare lists how the plan computed now (sealed with the saved salt)
// differs from the saved one, object by object: objects that appeared in or
// left the plan, live objects that changed since (Kubernetes
// resourceVersion, the settings of Prefect objects), other actions,
// different desired secret values, and any other difference in the
// changes. Empty means the saved plan is what applying would do now.
func Compare(saved, now *Saved) []Mismatch {
	was := map[state.Key]SavedChange{}
	for _, c := range saved.Changes {
		was[c.Key] = c
	}
	is := map[state.Key]SavedChange{}
	for _, c := range now.Changes {
		is[c.Key] = c
	}
	var out []Mismatch
	for _, c := range saved.Changes {
		n, ok := is[c.Key]
		if !ok {
			out = append(out, Mismatch{c.Key, fmt.Sprintf("no longer in the plan (the saved plan %s)", does(c.Action))})
			continue
		}
		if r := compareChange(c, n); r != "" {
			out = append(out, Mismatch{c.Key, r})
		}
	}
	for _, c := range now.Changes {
		if _, ok := was[c.Key]; !ok {
			out = append(out, Mismatch{c.Key, fmt.Sprintf("appeared since the plan was made (now the plan %s)", does(c.Action))})
		}
	}
	return out
}

// does says what a plan does to an object, for messages.
func does(a Action) string {
	switch a {
	case Create:
		return "creates it"
	case Update:
		return "updates it"
	case Replace:
		return "replaces it"
	case Delete:
		return "deletes it"
	case Orphan:
		return "keeps it, no longer in the file"
	case Unmanaged:
		return "leaves it alone, not managed by the set"
	case NoOp:
		return "leaves it as it is"
	}
	return string(a)
}

// attributeWords names the attributes of a change that are not fields.
var attributeWords = map[string]string{
	"dependsOn": "the changes it waits for",
	"reason":    "the reason given",
	"implicit":  "whether it comes with its pool",
	"unowned":   "whether the set owns it",
	"kept":      "whether --prune keeps it",
}

func compareChange(was, is SavedChange) string {
	var reasons []string
	wasLive, isLive := identity(was), identity(is)
	switch {
	case wasLive == isLive:
	case wasLive == "":
		reasons = append(reasons, "created since the plan was made")
	case isLive == "":
		reasons = append(reasons, "deleted since the plan was made")
	case was.Key.System == state.Kubernetes:
		reasons = append(reasons, fmt.Sprintf("changed since the plan was made (resourceVersion %s, now %s)", wasLive, isLive))
	default:
		reasons = append(reasons, "changed since the plan was made")
	}
	if was.Action != is.Action {
		reasons = append(reasons, fmt.Sprintf("the saved plan %s, now it %s", does(was.Action), does(is.Action)))
	}
	for _, k := range changedSecrets(was.Secrets, is.Secrets) {
		reasons = append(reasons, fmt.Sprintf("the value of %s differs from the one the plan was made with", join("data", k)))
	}
	if orphans(is) > orphans(was) {
		reasons = append(reasons, fmt.Sprintf("%d deployment%s target it now, against %d when the plan was made", orphans(is), plural(orphans(is)), orphans(was)))
	}
	if len(reasons) == 0 {
		if paths := changedFields(was, is); len(paths) > 0 {
			reasons = append(reasons, "its changes differ from the saved plan ("+strings.Join(paths, ", ")+")")
		}
	}
	return strings.Join(reasons, "; ")
}

// identity is what tells one version of a live object from another.
func identity(c SavedChange) string {
	if c.Key.System == state.Kubernetes {
		return c.Fingerprint
	}
	return c.Live
}

func changedSecrets(was, is map[string]string) []string {
	keys := map[string]bool{}
	for k, v := range was {
		if is[k] != v {
			keys[k] = true
		}
	}
	for k, v := range is {
		if was[k] != v {
			keys[k] = true
		}
	}
	out := make([]string, 0, len(keys))
	for k := range keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// changedFields names what differs between two changes of one object with
// the same action and live object: the paths of differing fields, or the
// JSON names of other differing attributes.
func changedFields(was, is SavedChange) []string {
	// What identifies the live object was compared already; Prefect's
	// `updated` (the fingerprint) is not compared at all.
	was.Fingerprint, was.Live, was.Secrets = "", "", nil
	is.Fingerprint, is.Live, is.Secrets = "", "", nil
	if bytes.Equal(canonical(was), canonical(is)) {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	wf, nf := fieldMap(was.Fields), fieldMap(is.Fields)
	for p, f := range wf {
		if g, ok := nf[p]; !ok || !bytes.Equal(canonical(f), canonical(g)) {
			add(p)
		}
	}
	for p := range nf {
		if _, ok := wf[p]; !ok {
			add(p)
		}
	}
	sort.Strings(out)
	w, n := was, is
	w.Fields, n.Fields = nil, nil
	if !bytes.Equal(canonical(w), canonical(n)) {
		var a, b map[string]json.RawMessage
		_ = json.Unmarshal(canonical(w), &a)
		_ = json.Unmarshal(canonical(n), &b)
		var attrs []string
		for k := range a {
			if !bytes.Equal(a[k], b[k]) {
				attrs = append(attrs, k)
			}
		}
		for k := range b {
			if _, ok := a[k]; !ok {
				attrs = append(attrs, k)
			}
		}
		sort.Strings(attrs)
		for _, k := range attrs {
			if w, ok := attributeWords[k]; ok {
				k = w
			}
			add(k)
		}
	}
	if len(out) == 0 {
		out = append(out, "fields")
	}
	return out
}

func fieldMap(fs []FieldChange) map[string]FieldChange {
	m := make(map[string]FieldChange, len(fs))
	for _, f := range fs {
		m[f.Path] = f
	}
	return m
}

// canonical is a value's JSON after a round trip, so that a change read
// back from a file (numbers as float64) and one computed now (ints)
// compare equal.
func canonical(v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return raw
	}
	out, _ := json.Marshal(generic)
	return out
}

// orphans counts the deployments a change would strand.
func orphans(c SavedChange) int {
	if c.Impact == nil || !c.Impact.Orphans {
		return 0
	}
	return c.Impact.Deployments
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
