package prefect

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// APIError is a non-2xx answer from the Prefect API. Detail is the server's
// explanation (its "detail", or "exception_message" with the validation
// entries); the request body the server echoes and all headers are left out
// because they can hold secrets.
type APIError struct {
	Op     string // "creating", "updating", "deleting", "reading", "listing", "setting"
	Object string // e.g. `work pool "gpu"`, "work pools"
	Status int
	Detail string
	Hint   string // what to do about it, when we know
}

func (e *APIError) Error() string {
	status := strconv.Itoa(e.Status)
	if t := http.StatusText(e.Status); t != "" {
		status += " " + t
	}
	msg := e.Op + " " + e.Object + ": " + status
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// IsNotFound reports whether err is the API's 404.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsConflict reports whether err is the API's 409 (the name is taken).
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

func hasStatus(err error, status int) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == status
}

// ConnError means no whole HTTP answer came back: the server is
// unreachable, the TLS handshake failed, the request timed out, or the
// answer stopped midway (Partial). URL has no userinfo.
type ConnError struct {
	Op, Object string
	URL        string // the API base, redacted
	Source     string // where the URL came from
	Hint       string
	Err        error
	// Partial: the answer had begun, and its body did not arrive whole.
	Partial bool
}

func (e *ConnError) Error() string {
	if e.Partial {
		return fmt.Sprintf("%s %s: the answer from the Prefect API at %s (from %s) stopped before it was complete: %v; %s",
			e.Op, e.Object, e.URL, e.Source, e.Err, e.Hint)
	}
	return fmt.Sprintf("%s %s: no answer from the Prefect API at %s (from %s): %v; %s",
		e.Op, e.Object, e.URL, e.Source, e.Err, e.Hint)
}

func (e *ConnError) Unwrap() error { return e.Err }

// connHint suggests the setting to check for a transport failure.
func connHint(err error, conn Connection) string {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	var record tls.RecordHeaderError
	const skip = " (or PREFECT_API_TLS_INSECURE_SKIP_VERIFY=true to skip verification)"
	switch {
	case errors.As(err, &host):
		return fmt.Sprintf("the server's certificate is for %s, not %s: use a host name or address the certificate holds in PREFECT_API_URL (from %s)",
			certNames(host.Certificate), host.Host, conn.URLSource) + skip
	case conn.CAFile != "" && (errors.As(err, &unknown) || errors.As(err, &invalid)):
		return fmt.Sprintf("the CA bundle %s (%s from %s) did not sign it: set %s to the bundle that did",
			conn.CAFile, settingCertFile, conn.Sources[settingCertFile], settingCertFile) + skip
	case errors.As(err, &unknown), errors.As(err, &invalid):
		return "set PREFECT_API_SSL_CERT_FILE to the CA bundle that signed the server's certificate" + skip
	case errors.As(err, &record):
		return "the server does not speak TLS: check the scheme of PREFECT_API_URL (http:// or https://)"
	case isTimeout(err):
		return fmt.Sprintf("no complete answer within %s: raise PREFECT_API_REQUEST_TIMEOUT, or check the server", conn.Timeout)
	}
	return "check PREFECT_API_URL and that the server is running"
}

// unauthorizedHint explains a 401 by the name of the credential sent.
func unauthorizedHint(auth Credential) string {
	const how = "PREFECT_API_AUTH_STRING=user:pass for a self-hosted server with basic auth, " +
		"PREFECT_API_KEY for Prefect Cloud"
	if auth.IsZero() {
		return "no credential was sent: set " + how
	}
	return "the server rejected " + auth.String() + ": check its value, or set the one this server expects (" + how + ")"
}

// certNames lists the names and addresses a certificate is valid for.
func certNames(c *x509.Certificate) string {
	if c == nil {
		return "no name"
	}
	names := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "no name"
	}
	return strings.Join(names, ", ")
}
