package prefect

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		header   string
		min, max time.Duration
		ok       bool
	}{
		"seconds":        {"3", 3 * time.Second, 3600 * time.Millisecond, true},
		"zero":           {"0", 0, 0, true},
		"date":           {now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second, 12 * time.Second, true},
		"past date":      {now.Add(-time.Minute).Format(http.TimeFormat), 0, 0, true},
		"capped seconds": {"86400", retryAfterMax, retryAfterMax * 6 / 5, true},
		"negative":       {"-5", 0, 0, true},
		"garbage":        {"soon", 0, 0, false},
		"absent":         {"", 0, 0, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("Retry-After", tc.header)
			}
			d, ok := retryAfter(h, now)
			if ok != tc.ok || d < tc.min || d > tc.max {
				t.Errorf("retryAfter(%q) = %v, %v; want %v..%v, %v", tc.header, d, ok, tc.min, tc.max, tc.ok)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	for n := 1; n <= 20; n++ {
		full := min(backoffBase<<min(n-1, 10), backoffMax)
		if d := backoff(n); d < full/2 || d > full {
			t.Errorf("backoff(%d) = %v, want %v..%v", n, d, full/2, full)
		}
	}
}

func TestRetryableError(t *testing.T) {
	tests := map[string]struct {
		err  error
		want bool
	}{
		"reset":       {&url.Error{Op: "Get", URL: "u", Err: syscall.ECONNRESET}, true},
		"EOF":         {fmt.Errorf("reading: %w", io.EOF), true},
		"short body":  {io.ErrUnexpectedEOF, true},
		"idle closed": {errors.New("http: server closed idle connection"), true},
		"refused":     {syscall.ECONNREFUSED, false},
		"other":       {errors.New("x509: certificate signed by unknown authority"), false},
	}
	for name, tc := range tests {
		if got := retryableError(tc.err); got != tc.want {
			t.Errorf("%s: retryableError = %v, want %v", name, got, tc.want)
		}
	}
}
