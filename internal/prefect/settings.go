package prefect

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Prefect settings the client reads, by their environment/profile names.
const (
	settingURL           = "PREFECT_API_URL"
	settingAuthString    = "PREFECT_API_AUTH_STRING"
	settingKey           = "PREFECT_API_KEY"
	settingInsecure      = "PREFECT_API_TLS_INSECURE_SKIP_VERIFY"
	settingCertFile      = "PREFECT_API_SSL_CERT_FILE"
	settingTimeout       = "PREFECT_API_REQUEST_TIMEOUT"
	settingCustomHeaders = "PREFECT_CLIENT_CUSTOM_HEADERS"

	// DefaultTimeout is Prefect's default PREFECT_API_REQUEST_TIMEOUT.
	DefaultTimeout = 60 * time.Second
)

// settings looks a Prefect setting up the way Prefect does: the environment
// first, then the active profile. An empty environment variable counts as
// unset.
type settings struct {
	getenv  func(string) string
	profile *profile // nil when no profile applies
}

// lookup returns a setting's value and where it came from.
func (s settings) lookup(name string) (value, from string, ok bool) {
	if v := s.getenv(name); v != "" {
		return v, "the environment", true
	}
	if s.profile != nil {
		if v, ok := s.profile.settings[name]; ok && v != "" {
			return v, s.profile.String(), true
		}
	}
	return "", "", false
}

// parseBool accepts exactly the strings Prefect's settings (pydantic) accept.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "on", "t", "true", "y", "yes":
		return true, nil
	case "0", "off", "f", "false", "n", "no":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (use true or false)", s)
}

// parseTimeout reads seconds, as a number with an optional fraction.
func parseTimeout(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f <= 0 || f > 24*3600 {
		return 0, fmt.Errorf("%q is not a number of seconds above 0 and at most 86400 (a day)", s)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// protectedHeaders are managed by the client; Prefect ignores them in
// PREFECT_CLIENT_CUSTOM_HEADERS, and so do we.
var protectedHeaders = map[string]bool{
	"User-Agent":          true,
	"Prefect-Csrf-Token":  true,
	"Prefect-Csrf-Client": true,
}

// parseHeaders reads a JSON object of header name to string value. Values
// may be credentials, so they are kept as Secrets.
func parseHeaders(s string) (map[string]Secret, error) {
	var raw map[string]any
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		// Never echo the text: it may hold a token.
		return nil, fmt.Errorf("not a JSON object of header names to strings")
	}
	out := make(map[string]Secret, len(raw))
	for name, v := range raw {
		str, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("header %q: value must be a string", name)
		}
		canon := http.CanonicalHeaderKey(name)
		if protectedHeaders[canon] {
			continue
		}
		out[canon] = NewSecret(str)
	}
	return out, nil
}

// checkURL validates an API URL and drops a trailing slash.
func checkURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: give an http:// or https:// URL with a host, e.g. http://127.0.0.1:4200/api", RedactURL(raw))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("%q must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:4200/api", RedactURL(raw))
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// RedactURL drops userinfo, query and fragment from a URL for messages. A
// URL without them is shown as it was given; one that cannot be parsed
// only when it cannot hold them either.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.ContainsAny(raw, "@?#") {
			return "(a URL that cannot be parsed, not shown: it may hold credentials)"
		}
		return raw
	}
	if u.User == nil && u.RawQuery == "" && u.Fragment == "" {
		return raw
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
