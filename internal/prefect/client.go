package prefect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/wait"
)

// DefaultMaxBodyBytes caps a response body: a list page of 200 pools with
// large job templates is a few MiB; anything past this is not Prefect.
const DefaultMaxBodyBytes = 32 << 20

// Options tune a Client. The zero value is ready to use.
type Options struct {
	// MaxRetries is how often a call is sent again on 429, 502, 503, 504
	// and dropped connections or answers cut off. Creates are retried too:
	// one that meets its own first attempt is answered 409 (see
	// Client.do). 0 means DefaultMaxRetries; a negative value disables
	// retries.
	MaxRetries int
	// Sleep waits between retries; tests replace it to record delays.
	// It must return early with ctx.Err() when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
	// UserAgent is sent on every request, e.g. "prefect-apply/1.2.3".
	UserAgent string
	// Transport replaces the default keep-alive transport (which applies the
	// connection's TLS settings). Authentication, retries and request
	// counting still wrap it.
	Transport http.RoundTripper
	// MaxBodyBytes caps a response body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Client calls one Prefect API. It is safe for concurrent use.
type Client struct {
	// overloads counts the answers that said the server was overloaded
	// (429, 502, 503, 504) and the attempts that timed out.
	overloads  atomic.Int64
	conn       Connection
	http       *http.Client
	counter    *counter
	maxRetries int
	sleep      func(context.Context, time.Duration) error
	userAgent  string
	maxBody    int64
}

// Overloads is how many answers so far said the server was overloaded
// (429, 502, 503, 504) or did not come in time: the signal that applying
// adapts its concurrency to.
func (c *Client) Overloads() int64 { return c.overloads.Load() }

// New returns a client for the connection.
func New(conn Connection, opts Options) (*Client, error) {
	if _, err := url.Parse(conn.URL); err != nil || conn.URL == "" {
		return nil, fmt.Errorf("prefect client: invalid API URL %q", RedactURL(conn.URL))
	}
	if conn.Timeout <= 0 {
		conn.Timeout = DefaultTimeout
	}
	base := opts.Transport
	if base == nil {
		t, err := newTransport(conn)
		if err != nil {
			return nil, err
		}
		base = t
	}
	c := &Client{
		conn:       conn,
		counter:    &counter{next: base, counts: map[string]int{}},
		maxRetries: opts.MaxRetries,
		sleep:      opts.Sleep,
		userAgent:  opts.UserAgent,
		maxBody:    opts.MaxBodyBytes,
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.sleep == nil {
		c.sleep = wait.Sleep
	}
	if c.userAgent == "" {
		c.userAgent = "prefect-apply"
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	// No client-wide timeout: each attempt gets its own deadline in do.
	c.http = &http.Client{Transport: c.counter, CheckRedirect: checkRedirect}
	return c, nil
}

// checkRedirect follows a redirect only to the same host and port, and
// never from https to http: net/http drops the Authorization header on the
// way to another host, but not the custom headers, which may hold tokens
// too. A redirect not followed comes back as the 3xx answer, and the
// error names its target.
func checkRedirect(req *http.Request, via []*http.Request) error {
	from := via[0].URL
	if !strings.EqualFold(req.URL.Hostname(), from.Hostname()) || req.URL.Port() != from.Port() ||
		from.Scheme == "https" && req.URL.Scheme != "https" {
		return http.ErrUseLastResponse
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

// Connection returns the connection the client uses.
func (c *Client) Connection() Connection { return c.conn }

// String names the API without secrets.
func (c *Client) String() string { return "prefect client for " + RedactURL(c.conn.URL) }

// GoString keeps %#v as safe as %v.
func (c *Client) GoString() string { return "prefect.Client(" + RedactURL(c.conn.URL) + ")" }

// Stats returns how many HTTP requests were sent, retries included, by
// "VERB route", e.g. "POST work_pools/filter" or "GET work_pools/{name}".
func (c *Client) Stats() map[string]int { return c.counter.snapshot() }

// newTransport builds a keep-alive transport with the connection's TLS
// settings: PREFECT_API_SSL_CERT_FILE replaces the system roots, as the
// bundle does in Prefect's client.
func newTransport(conn Connection) (*http.Transport, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: conn.InsecureSkipVerify} //nolint:gosec // user opt-in
	if conn.CAFile != "" && !conn.InsecureSkipVerify {
		pem, err := os.ReadFile(conn.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading CA bundle (%s from %s): %w", settingCertFile, conn.Sources[settingCertFile], err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA bundle %s (%s from %s) holds no PEM certificates", conn.CAFile, settingCertFile, conn.Sources[settingCertFile])
		}
		tlsConf.RootCAs = pool
	}
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsConf,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 16,
		// Below uvicorn's 5 s keep-alive (Prefect's server): the client drops an
		// idle connection before the server can close it under a request
		// that must not be replayed (a create).
		IdleConnTimeout:       4 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}, nil
}
