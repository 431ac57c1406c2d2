package kube

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
)

// DefaultTimeout bounds one request unless --kube-request-timeout says (kubectl
// waits forever; a drift check in a CronJob must not).
const DefaultTimeout = 60 * time.Second

// MaxBodyBytes caps one answer: a page of 500 labelled objects is far
// below it; past it, the answer is not the API server's.
const MaxBodyBytes = 64 << 20

// errTooLarge ends the reading of an answer past MaxBodyBytes.
type errTooLarge struct{}

func (errTooLarge) Error() string {
	return fmt.Sprintf("answer larger than %d MiB: not what the Kubernetes API sends for prefect-apply's requests (a proxy?)", MaxBodyBytes>>20)
}

// limitBody is a RoundTripper that fails the reading of a body past
// MaxBodyBytes, so that client-go, which reads whole answers, holds no more.
type limitBody struct{ next http.RoundTripper }

func (l limitBody) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(req)
	if err == nil && resp.Body != nil {
		resp.Body = &limitedBody{rc: resp.Body, left: MaxBodyBytes}
	}
	return resp, err
}

func (l limitBody) WrappedRoundTripper() http.RoundTripper { return l.next }

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errTooLarge{}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// checkRedirect follows a redirect only to the same host and port, and
// never from https to http: client-go adds the bearer token to every
// request its transport sends, redirected ones included.
func checkRedirect(req *http.Request, via []*http.Request) error {
	from := via[0].URL
	if !strings.EqualFold(req.URL.Hostname(), from.Hostname()) || req.URL.Port() != from.Port() ||
		from.Scheme == "https" && req.URL.Scheme != "https" {
		u := *req.URL
		u.User, u.RawQuery, u.Fragment = nil, "", ""
		return fmt.Errorf("the server redirects to %s, another host or plain http: not followed, so that the credentials are not sent there; check the cluster's server address in the kubeconfig", u.String())
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

// credentials lists the secrets of a configuration that an error page may
// echo: the bearer token (also from its file) and the basic-auth password.
func credentials(cfg *rest.Config) []string {
	var out []string
	for _, s := range []string{cfg.BearerToken, cfg.Password} {
		if s = strings.TrimSpace(s); len(s) >= 4 {
			out = append(out, s)
		}
	}
	if cfg.BearerTokenFile != "" {
		if b, err := os.ReadFile(cfg.BearerTokenFile); err == nil {
			if s := strings.TrimSpace(string(b)); len(s) >= 4 {
				out = append(out, s)
			}
		}
	}
	return out
}

// explain adds what to do to client-go's errors, and cuts the credentials
// out of them (hint included).
func (c *Client) explain(err error) error {
	err = explain(err)
	var tl errTooLarge
	if errors.As(err, &tl) {
		return tl
	}
	if h := c.hint(err); h != "" {
		err = fmt.Errorf("%w: %s", err, h)
	}
	msg := err.Error()
	redacted := msg
	for _, s := range c.secrets {
		redacted = strings.ReplaceAll(redacted, s, "[redacted]")
	}
	if redacted != msg {
		return redactedError{msg: redacted, err: err}
	}
	return err
}

// hint says what to check after a failure that is the connection's or the
// configuration's, not the request's.
func (c *Client) hint(err error) string {
	var ne net.Error
	msg := err.Error()
	switch {
	case strings.Contains(msg, "TLS handshake timeout"):
		return fmt.Sprintf("%s accepted the connection but did not complete a TLS handshake within 10 s; check the cluster's server address in the kubeconfig (context %q)", c.Host, c.Context)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no complete answer from %s within %s (--kube-request-timeout)", c.Host, c.timeout)
	case errors.Is(err, syscall.ECONNREFUSED) || isDNSError(err):
		return fmt.Sprintf("cannot reach the Kubernetes API at %s (context %q); check that the cluster is up and the kubeconfig's server address, or leave Kubernetes out with --skip-kubernetes", c.Host, c.Context)
	case apierrors.IsUnauthorized(err):
		return fmt.Sprintf("the API server at %s did not accept the kubeconfig's credentials (context %q); they may have expired: log in again, or pick another --context", c.Host, c.Context)
	case isMissingAPI(err):
		return fmt.Sprintf("%s has no such API path; check that the kubeconfig's server address (context %q) is the API server's, without a path", c.Host, c.Context)
	case strings.Contains(msg, "serializer for text/html doesn't exist"):
		return fmt.Sprintf("the server answered with an HTML page, not the Kubernetes API; check the cluster's server address in the kubeconfig (%s)", c.Host)
	}
	return ""
}

func isDNSError(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de)
}

// isMissingAPI tells a 404 for a whole API path (a wrong server address,
// a proxy) from a missing object, which names the object.
func isMissingAPI(err error) bool {
	var se apierrors.APIStatus
	if !errors.As(err, &se) || !apierrors.IsNotFound(err) {
		return false
	}
	st := se.Status()
	return st.Details == nil || st.Details.Name == ""
}

// redactedError is an error whose message had a credential cut out; the
// error it wraps still answers errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }
