package prefect

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// ResolveInput is what Resolve needs from the outside world.
type ResolveInput struct {
	FlagURL string              // --prefect-url
	FileURL string              // prefect.url of the pools file
	Getenv  func(string) string // os.Getenv in production
	HomeDir string              // the user's home directory, for ~/.prefect
}

// Connection is a resolved Prefect API endpoint with its credential and
// transport settings, and where each came from. Printing or marshalling it
// never shows a credential or URL userinfo.
type Connection struct {
	URL       string // the API base, ending in /api for a server
	URLSource string // e.g. "flag --prefect-url", "environment PREFECT_API_URL"
	Auth      Credential
	// Headers are PREFECT_CLIENT_CUSTOM_HEADERS, minus Authorization (which
	// becomes Auth) and the headers the client manages.
	Headers            map[string]Secret
	InsecureSkipVerify bool
	CAFile             string // PEM bundle that replaces the system roots
	Timeout            time.Duration
	// Profile is where profile settings came from (`profile "local" in
	// /path`), or "" when no profile applied.
	Profile string
	// Sources maps every setting that was set to where it came from.
	Sources map[string]string
}

// Resolve finds the Prefect API and its credential. The URL comes from the
// flag, then PREFECT_API_URL, then the file's prefect.url, then the active
// Prefect profile; every other setting from the environment, then the
// profile. PREFECT_API_AUTH_STRING (Basic) wins over PREFECT_API_KEY (Bearer)
// when both are set, as in Prefect 3.4.1 and later.
func Resolve(in ResolveInput) (Connection, error) {
	if in.Getenv == nil {
		in.Getenv = func(string) string { return "" }
	}
	path := profilesPath(in.Getenv, in.HomeDir)
	prof, err := loadProfile(path, in.Getenv("PREFECT_PROFILE"))
	if err != nil {
		return Connection{}, err
	}
	s := settings{getenv: in.Getenv, profile: prof}
	c := Connection{Timeout: DefaultTimeout, Sources: map[string]string{}}
	if prof != nil {
		c.Profile = prof.String()
	}
	record := func(name, from string) { c.Sources[name] = from }

	switch {
	case in.FlagURL != "":
		c.URL, c.URLSource = in.FlagURL, "flag --prefect-url"
	case in.Getenv(settingURL) != "":
		c.URL, c.URLSource = in.Getenv(settingURL), "environment "+settingURL
	case in.FileURL != "":
		c.URL, c.URLSource = in.FileURL, "file prefect.url"
	default:
		if v, from, ok := s.lookup(settingURL); ok {
			c.URL, c.URLSource = v, from
		}
	}
	if c.URL == "" {
		return Connection{}, noURLError(path, prof)
	}
	if c.URL, err = checkURL(c.URL); err != nil {
		return Connection{}, fmt.Errorf("Prefect API URL from %s: %w", c.URLSource, err)
	}
	record(settingURL, c.URLSource)

	if v, from, ok := s.lookup(settingAuthString); ok {
		c.Auth = Credential{Setting: settingAuthString, Source: from,
			Header: NewSecret("Basic " + base64.StdEncoding.EncodeToString([]byte(v)))}
	} else if v, from, ok := s.lookup(settingKey); ok {
		c.Auth = Credential{Setting: settingKey, Source: from, Header: NewSecret("Bearer " + v)}
	}
	if !c.Auth.IsZero() {
		record(c.Auth.Setting, c.Auth.Source)
	}

	if v, from, ok := s.lookup(settingInsecure); ok {
		if c.InsecureSkipVerify, err = parseBool(v); err != nil {
			return Connection{}, fmt.Errorf("%s from %s: %w", settingInsecure, from, err)
		}
		record(settingInsecure, from)
	}
	if v, from, ok := s.lookup(settingCertFile); ok {
		c.CAFile = expandHome(v, in.HomeDir)
		record(settingCertFile, from)
	} else if v := in.Getenv("SSL_CERT_FILE"); v != "" {
		c.CAFile = v // Prefect's default for PREFECT_API_SSL_CERT_FILE
		record(settingCertFile, "environment SSL_CERT_FILE")
	}
	if v, from, ok := s.lookup(settingTimeout); ok {
		if c.Timeout, err = parseTimeout(v); err != nil {
			return Connection{}, fmt.Errorf("%s from %s: %w", settingTimeout, from, err)
		}
		record(settingTimeout, from)
	}
	if v, from, ok := s.lookup(settingCustomHeaders); ok {
		if c.Headers, err = parseHeaders(v); err != nil {
			return Connection{}, fmt.Errorf("%s from %s: %w", settingCustomHeaders, from, err)
		}
		record(settingCustomHeaders, from)
		// An Authorization custom header replaces the credential, as in
		// Prefect; keep it where a 401 message can name it.
		if h, ok := c.Headers["Authorization"]; ok {
			delete(c.Headers, "Authorization")
			c.Auth = Credential{Setting: settingCustomHeaders + " (Authorization)", Source: from, Header: h}
		}
	}
	return c, nil
}

func noURLError(path string, prof *profile) error {
	where := "no Prefect profile"
	switch {
	case prof != nil:
		where = prof.String() + " sets none"
	case path != "" && fileExists(path):
		where = path + " has no active profile"
	case path != "":
		where = path + " does not exist"
	}
	return errors.New("no Prefect API URL: pass --prefect-url, set PREFECT_API_URL " +
		"(e.g. http://127.0.0.1:4200/api), set prefect.url in the pools file, " +
		"or run `prefect config set PREFECT_API_URL=...` for the active profile (" + where + ")")
}

// String summarises the connection without secrets.
func (c Connection) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Prefect API %s (from %s); %s", RedactURL(c.URL), c.URLSource, c.Auth)
	if c.InsecureSkipVerify {
		b.WriteString("; TLS verification off")
	}
	if c.CAFile != "" {
		b.WriteString("; CA bundle " + c.CAFile)
	}
	if len(c.Headers) > 0 {
		names := make([]string, 0, len(c.Headers))
		for n := range c.Headers {
			names = append(names, n)
		}
		sort.Strings(names)
		b.WriteString("; extra headers " + strings.Join(names, ", "))
	}
	fmt.Fprintf(&b, "; timeout %s", c.Timeout)
	return b.String()
}

// GoString keeps %#v as safe as %v.
func (c Connection) GoString() string { return "prefect.Connection(" + c.String() + ")" }

// InsecureWarning says that the server's certificate is not verified, and
// which setting turned that off; "" when verification is on or the URL is
// not https.
func (c Connection) InsecureWarning() string {
	if !c.InsecureSkipVerify || !strings.HasPrefix(c.URL, "https:") {
		return ""
	}
	return fmt.Sprintf("TLS certificate verification of the Prefect API is off (%s from %s): "+
		"anyone who can intercept the connection can read the credential and change what is applied; "+
		"set PREFECT_API_SSL_CERT_FILE to the server's CA bundle instead", settingInsecure, c.Sources[settingInsecure])
}

// MarshalJSON renders the connection with the URL's userinfo removed and
// secrets redacted.
func (c Connection) MarshalJSON() ([]byte, error) {
	type plain Connection
	p := plain(c)
	p.URL = RedactURL(c.URL)
	return json.Marshal(p)
}

// authorize sets the credential and custom headers on a request.
func (c Connection) authorize(h http.Header) {
	for name, v := range c.Headers {
		h.Set(name, v.Reveal())
	}
	if !c.Auth.IsZero() {
		h.Set("Authorization", c.Auth.Header.Reveal())
	}
}
