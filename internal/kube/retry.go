package kube

import (
	"context"
	"errors"
	"io"
	"time"

	"golang.org/x/net/http2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// Retry tuning: a request is sent at most maxAttempts times in all, the
// waits between growing exponentially from backoffBase up to backoffMax.
// client-go itself retries only answers that carry Retry-After, and GETs
// whose connection was reset.
const (
	maxAttempts = 5
	backoffBase = 500 * time.Millisecond
	backoffMax  = 8 * time.Second
)

// retried runs call until it succeeds, fails in a way another attempt
// cannot change, or has run maxAttempts times. Every request prefect-apply
// sends to the API server is safe to repeat: reads, server-side apply (the
// same object applied twice is the object), and deletes (a second one
// finds nothing, which Delete takes as done).
func retried[T any](ctx context.Context, c *Client, call func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := call()
		if overloaded(err) {
			c.overloads.Add(1)
		}
		if err == nil || attempt == maxAttempts || !retryable(err) || ctx.Err() != nil {
			return v, err
		}
		if serr := c.sleep(ctx, backoff(attempt)); serr != nil {
			return v, err
		}
	}
}

// overloaded reports an answer that says the API server is overloaded:
// 429 (API priority and fairness), 503, a server timeout.
func overloaded(err error) bool {
	return err != nil && (apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err))
}

// retryable reports the failures worth another attempt: the server busy,
// failing or timing out (429, and every 5xx: client-go names a 5xx it has
// no reason for an internal error), and a connection dropped or an answer
// cut off on the way. Over HTTP/2, which client-go speaks to an API server
// that offers it, those last two are a stream the server (or a proxy)
// reset, before the answer or midway, or the connection lost. Not a
// timeout of the request itself: it would only wait as long again.
func retryable(err error) bool {
	var tl errTooLarge
	var se http2.StreamError
	switch {
	case errors.As(err, &tl):
		return false
	case apierrors.IsTooManyRequests(err), apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err),
		apierrors.IsServerTimeout(err), apierrors.IsTimeout(err):
		return true
	case errors.As(err, &se):
		// A stream this client cancelled is not the server's doing.
		return se.Code != http2.ErrCodeCancel
	}
	return utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) || utilnet.IsHTTP2ConnectionLost(err) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// backoff is the wait before attempt n+1.
func backoff(n int) time.Duration {
	return min(backoffBase<<min(n-1, 10), backoffMax)
}
