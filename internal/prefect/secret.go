package prefect

import (
	"fmt"
	"log/slog"
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
