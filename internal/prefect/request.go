package prefect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"
)

// call is one API operation: its route and what to say when it fails.
type call struct {
	method string
	route  string // with "{}" for each name, e.g. "work_pools/{}/queues"
	names  []string
	body   any    // JSON-encoded when not nil
	op     string // "creating", "reading", ...
	obj    string // `work pool "gpu"`
}

// path fills the route's placeholders with escaped names: names may hold
// spaces, '#', '?' and any Unicode.
func (cl call) path() string {
	p := cl.route
	for _, n := range cl.names {
		p = strings.Replace(p, "{}", url.PathEscape(n), 1)
	}
	return p
}

// kind is the route as counted by Stats: "GET work_pools/{name}".
func (cl call) kind() string { return cl.method + " " + strings.ReplaceAll(cl.route, "{}", "{name}") }

// do sends the call, retrying on a lost answer, and decodes a JSON answer
// into out (when out is not nil).
//
// Every call this client makes is safe to send again: reads, the read-only
// filter POSTs, updates that set absolute values, deletes (a repeated one
// is answered 404, which callers take as done), and creates. A create sent
// again after its answer was lost (a dropped connection, a 502 or 504 from
// a proxy, an answer cut off) meets the object its first attempt made and
// is answered 409: sync reads that object back and counts the create as
// applied when it matches the file (cli.settling), and SetVariable updates
// the variable instead. Prefect's own client retries creates the same way.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return fmt.Errorf("%s %s: encoding request: %w", cl.op, cl.obj, err)
		}
	}
	target := c.conn.URL + "/" + cl.path()
	ctx = withRoute(ctx, cl.kind())
	for attempt := 0; ; attempt++ {
		status, header, body, err := c.attempt(ctx, cl, target, payload)
		if retryableStatus(status) || err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			c.overloads.Add(1)
		}
		canRetry := attempt < c.maxRetries && ctx.Err() == nil
		var wait time.Duration
		switch {
		case err != nil && canRetry && retryableError(err):
			wait = backoff(attempt + 1)
		case err != nil:
			return c.connError(ctx, cl, err)
		case canRetry && retryableStatus(status):
			var ok bool
			if wait, ok = retryAfter(header, time.Now()); !ok {
				wait = backoff(attempt + 1)
			}
		case status >= 300:
			return c.apiError(cl, status, header, body)
		case out == nil || status == http.StatusNoContent:
			return nil
		default:
			if err := json.Unmarshal(body, out); err != nil {
				return c.decodeError(cl, status, body, err)
			}
			return nil
		}
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s %s: %w", cl.op, cl.obj, err)
		}
	}
}

// attempt sends one request with its own deadline and reads the bounded body.
func (c *Client) attempt(ctx context.Context, cl call, target string, payload []byte) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.conn.Timeout)
	defer cancel()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, body)
	if err != nil {
		return 0, nil, nil, err
	}
	// An empty Idempotency-Key is not sent, but tells net/http that it may
	// replay the request on a kept-alive connection the server has just
	// closed (it does so on its own only for GET and HEAD).
	req.Header["Idempotency-Key"] = nil
	c.conn.authorize(req.Header)
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	limit := c.maxBody
	if resp.StatusCode >= 300 {
		// An error is explained in a few lines; an error page past this
		// is a proxy's or a broken server's, and its start is enough.
		limit = min(limit, maxErrorBody)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, nil, nil, errBodyCut{err}
	}
	if int64(len(data)) > limit {
		if resp.StatusCode < 300 {
			return 0, nil, nil, errTooLarge{c.maxBody}
		}
		data = data[:limit]
	}
	return resp.StatusCode, resp.Header, data, nil
}

// maxErrorBody caps what is read of a non-2xx answer: Prefect's 422 bodies
// echo the request, a large job template included, but stay far below it.
const maxErrorBody = 1 << 20

// errBodyCut is a body that stopped arriving after the answer began.
type errBodyCut struct{ err error }

func (e errBodyCut) Error() string { return e.err.Error() }
func (e errBodyCut) Unwrap() error { return e.err }

type errTooLarge struct{ limit int64 }

func (e errTooLarge) Error() string {
	return fmt.Sprintf("response body larger than %d MiB", e.limit>>20)
}

// connError wraps a transport failure without the request URL that
// net/http puts in its errors (it can carry userinfo).
func (c *Client) connError(ctx context.Context, cl call, err error) error {
	var tl errTooLarge
	if errors.As(err, &tl) {
		return fmt.Errorf("%s %s: %w", cl.op, cl.obj, tl)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: %w", cl.op, cl.obj, ctx.Err())
	}
	var bc errBodyCut
	partial := errors.As(err, &bc)
	if partial {
		err = bc.err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &ConnError{Op: cl.op, Object: cl.obj, URL: RedactURL(c.conn.URL),
		Source: c.conn.URLSource, Hint: connHint(err, c.conn), Err: err, Partial: partial}
}

// apiError builds the error for a non-2xx answer. A server or proxy may
// echo the request's headers in its error page: the credential is cut out
// of the body before any of it is shown.
func (c *Client) apiError(cl call, status int, header http.Header, body []byte) *APIError {
	e := &APIError{Op: cl.op, Object: cl.obj, Status: status}
	if loc := header.Get("Location"); status >= 300 && status < 400 && loc != "" {
		// Not followed (see checkRedirect); the body only repeats the target.
		e.Hint = "the server redirects to " + RedactURL(loc) + ", another host or plain http: not followed, " +
			"so that the credentials are not sent there; if that is the Prefect API, set PREFECT_API_URL to it (from " + c.conn.URLSource + ")"
		return e
	}
	e.Detail = parseDetail(c.conn.redact(body))
	switch {
	case status == http.StatusUnauthorized:
		e.Hint = unauthorizedHint(c.conn.Auth)
	case status == http.StatusForbidden && strings.Contains(e.Detail, "CSRF"):
		e.Hint = "the server has PREFECT_SERVER_CSRF_PROTECTION_ENABLED on; prefect-apply sends no CSRF tokens yet"
	case (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) &&
		cl.op == "listing" && !strings.HasSuffix(c.conn.URL, "/api"):
		e.Hint = "PREFECT_API_URL usually ends in /api (from " + c.conn.URLSource + ")"
	}
	return e
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// decodeError explains a 2xx answer that is not the JSON the call expects:
// a page cut off midway, a document of another shape, or no JSON at all
// (an HTML page from a proxy, or a URL that is not the API).
func (c *Client) decodeError(cl call, status int, body []byte, err error) error {
	shown := snippet(c.conn.redact(body))
	var se *json.SyntaxError
	if errors.As(err, &se) && len(bytes.TrimSpace(body)) > 0 && se.Offset >= int64(len(body)) {
		return fmt.Errorf("%s %s: %d answer is not the expected JSON: it stops after %d bytes, cut off midway (a proxy or a dropped connection?): %s",
			cl.op, cl.obj, status, len(body), shown)
	}
	return fmt.Errorf("%s %s: %d answer is not the expected JSON (%s): %s; check that PREFECT_API_URL points at the API (it usually ends in /api)",
		cl.op, cl.obj, status, jsonErrorKind(err), shown)
}

// jsonErrorKind names a decoding problem without quoting the document.
func jsonErrorKind(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		what := fmt.Sprintf("a JSON %s where %s was expected", jsonName(te.Value), goName(te.Type))
		if te.Field != "" {
			return "field " + te.Field + ": " + what
		}
		return what
	}
	return "invalid JSON"
}

// jsonName is what users call a JSON value kind that encoding/json names.
func jsonName(v string) string {
	if v == "array" {
		return "list"
	}
	return v
}

// goName names the JSON a Go type decodes from.
func goName(t reflect.Type) string {
	if t == nil {
		return "another value"
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Pointer:
		return goName(t.Elem())
	}
	return "another value"
}
