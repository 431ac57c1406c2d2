package prefect

import (
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Retry tuning. Prefect's own client retries 5 times with exponential
// backoff and honours Retry-After; so do we (see Client.do for why every
// call may be sent again).
const (
	DefaultMaxRetries = 5
	backoffBase       = 500 * time.Millisecond
	backoffMax        = 15 * time.Second
	retryAfterMax     = 60 * time.Second
)

// retryableStatus reports the statuses worth another attempt: rate limiting
// and a gateway or server that is briefly unavailable.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryableError reports a dropped connection: reset, broken pipe, EOF
// before the response was complete, or a kept-alive connection the server
// closed as the request went out (net/http's error for that is unexported).
func retryableError(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "server closed idle connection")
}

// backoff is the wait before retry n (1-based): exponential, capped, with
// "equal jitter" (half fixed, half random) so concurrent callers spread out.
func backoff(n int) time.Duration {
	d := backoffBase << min(n-1, 10)
	d = min(d, backoffMax)
	return d/2 + rand.N(d/2+1)
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), capped.
// It adds up to 20% so a crowd of clients does not return in step.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(max(min(secs, 3600), 0)) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = max(t.Sub(now), 0)
	} else {
		return 0, false
	}
	d = min(d, retryAfterMax)
	return d + rand.N(d/5+1), true
}
