package prefect

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"sort"
	"strings"
)

const redacted = "[redacted]"

// Secret holds a credential. Every way of printing or marshalling it (fmt
// verbs, JSON, text, slog) yields "[redacted]"; only Reveal returns the value.
// The value sits behind a pointer so that even reflection-based printing of
// an unexported field shows an address, not the text.
type Secret struct{ v *string }

// NewSecret wraps a value.
func NewSecret(s string) Secret { return Secret{v: &s} }

// Reveal returns the value, for the one place that must send it.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether no value is held.
func (s Secret) IsZero() bool { return s.v == nil || *s.v == "" }

func (Secret) String() string               { return redacted }
func (Secret) GoString() string             { return `prefect.Secret("` + redacted + `")` }
func (Secret) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte(redacted)) }
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }

// Credential is the Authorization header the client sends, and where it came
// from. The zero Credential means no header is sent.
type Credential struct {
	// Setting names the setting that produced the header:
	// PREFECT_API_AUTH_STRING, PREFECT_API_KEY or PREFECT_CLIENT_CUSTOM_HEADERS.
	Setting string `json:"setting,omitempty"`
	// Source says where the setting was read: "the environment" or
	// `profile "local" in /home/me/.prefect/profiles.toml`.
	Source string `json:"source,omitempty"`
	// Header is the complete Authorization header value.
	Header Secret `json:"header"`
}

// IsZero reports whether no credential is configured.
func (c Credential) IsZero() bool { return c.Header.IsZero() }

// String names the credential without its value, e.g.
// "PREFECT_API_AUTH_STRING from the environment".
func (c Credential) String() string {
	if c.IsZero() {
		return "no credential"
	}
	return c.Setting + " from " + c.Source
}

// GoString keeps %#v as safe as %v.
func (c Credential) GoString() string { return "prefect.Credential(" + c.String() + ")" }

// minRedacted is the shortest value redact looks for: shorter ones would
// blank out ordinary words of a message and hide little.
const minRedacted = 4

// redact replaces every credential the connection sends (the Authorization
// header and custom header values) with [redacted] in a body, in each form
// a server or proxy may echo it: the whole header, the token after its
// scheme, and for basic auth the decoded user:pass and the password.
func (c Connection) redact(body []byte) []byte {
	values := c.SecretValues()
	// The longest first, so that a header goes as a whole before its token.
	sort.Slice(values, func(i, j int) bool { return len(values[i]) > len(values[j]) })
	for _, v := range values {
		if len(v) >= minRedacted && bytes.Contains(body, []byte(v)) {
			body = bytes.ReplaceAll(body, []byte(v), []byte(redacted))
		}
	}
	return body
}

// SecretValues lists every credential the connection sends (the
// Authorization header and custom header values), in each form a server,
// a proxy or a pools file may show it: the whole header, the token after
// its scheme, and for basic auth the decoded user:pass and the password.
func (c Connection) SecretValues() []string {
	var headers []string
	if !c.Auth.IsZero() {
		headers = append(headers, c.Auth.Header.Reveal())
	}
	for _, h := range c.Headers {
		headers = append(headers, h.Reveal())
	}
	return headerForms(headers)
}

func headerForms(headers []string) []string {
	var values []string
	for _, h := range headers {
		values = append(values, h)
		scheme, token, ok := strings.Cut(h, " ")
		if !ok {
			continue
		}
		values = append(values, token)
		if strings.EqualFold(scheme, "Basic") {
			if raw, err := base64.StdEncoding.DecodeString(token); err == nil {
				values = append(values, string(raw))
				if _, pass, ok := strings.Cut(string(raw), ":"); ok {
					values = append(values, pass)
				}
			}
		}
	}
	return values
}

// CredentialValues is SecretValues of the connection Resolve would make
// from in, for commands that make none (render, validate) or before they
// do: it needs no URL, and a setting it cannot read (a broken profile, bad
// custom headers) gives what it can, never an error.
func CredentialValues(in ResolveInput) []string {
	if in.Getenv == nil {
		in.Getenv = func(string) string { return "" }
	}
	prof, _ := loadProfile(profilesPath(in.Getenv, in.HomeDir), in.Getenv("PREFECT_PROFILE"))
	s := settings{getenv: in.Getenv, profile: prof}
	var headers []string
	if v, _, ok := s.lookup(settingAuthString); ok {
		headers = append(headers, "Basic "+base64.StdEncoding.EncodeToString([]byte(v)))
	}
	if v, _, ok := s.lookup(settingKey); ok {
		headers = append(headers, "Bearer "+v)
	}
	if v, _, ok := s.lookup(settingCustomHeaders); ok {
		if hs, err := parseHeaders(v); err == nil {
			for _, h := range hs {
				headers = append(headers, h.Reveal())
			}
		} else {
			headers = append(headers, v)
		}
	}
	return headerForms(headers)
}
