package prefect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prefect-apply/prefect-apply/internal/state"
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

func TestRetries(t *testing.T) {
	tests := map[string]struct {
		responses []func(w http.ResponseWriter)
		call      func(c *Client) error
		wantErr   string
		wantReqs  int
		checkWait func(t *testing.T, waits []time.Duration)
	}{
		"503 then success": {
			responses: []func(http.ResponseWriter){status(503), okJSON(`{"name":"a","type":"process"}`)},
			call:      func(c *Client) error { _, err := c.GetPool(context.Background(), "a"); return err },
			wantReqs:  2,
			checkWait: func(t *testing.T, w []time.Duration) {
				if len(w) != 1 || w[0] < backoffBase/2 || w[0] > backoffBase {
					t.Errorf("waits = %v", w)
				}
			},
		},
		"429 with Retry-After seconds": {
			responses: []func(http.ResponseWriter){retryAfterHeader("7"), okJSON(`[]`)},
			call:      func(c *Client) error { _, err := c.ListPools(context.Background()); return err },
			wantReqs:  2,
			checkWait: func(t *testing.T, w []time.Duration) {
				if len(w) != 1 || w[0] < 7*time.Second || w[0] > 8400*time.Millisecond {
					t.Errorf("waits = %v, want 7s plus up to 20%%", w)
				}
			},
		},
		"429 with Retry-After date, capped": {
			responses: []func(http.ResponseWriter){retryAfterHeader(time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)), status(204)},
			call:      func(c *Client) error { return c.DeletePool(context.Background(), "a") },
			wantReqs:  2,
			checkWait: func(t *testing.T, w []time.Duration) {
				if len(w) != 1 || w[0] < retryAfterMax || w[0] > retryAfterMax*6/5 {
					t.Errorf("waits = %v, want the %v cap", w, retryAfterMax)
				}
			},
		},
		"gives up after MaxRetries": {
			responses: []func(http.ResponseWriter){status(502)},
			call:      func(c *Client) error { _, err := c.GetPool(context.Background(), "a"); return err },
			wantErr:   `reading work pool "a": 502 Bad Gateway`,
			wantReqs:  DefaultMaxRetries + 1,
			checkWait: func(t *testing.T, w []time.Duration) {
				if len(w) != DefaultMaxRetries || w[3] < 2*time.Second {
					t.Errorf("waits = %v, want exponential", w)
				}
			},
		},
		"create refused with 503 (database locked) is sent again": {
			responses: []func(http.ResponseWriter){status(503), status(201)},
			call:      func(c *Client) error { return c.CreatePool(context.Background(), &state.Pool{Name: "a"}) },
			wantReqs:  2,
		},
		"create after a 502 is sent again": {
			responses: []func(http.ResponseWriter){status(502), status(201)},
			call:      func(c *Client) error { return c.CreatePool(context.Background(), &state.Pool{Name: "a"}) },
			wantReqs:  2,
		},
		"create answered 500 is not sent again": {
			responses: []func(http.ResponseWriter){status(500), status(201)},
			call:      func(c *Client) error { return c.CreatePool(context.Background(), &state.Pool{Name: "a"}) },
			wantErr:   `creating work pool "a": 500 Internal Server Error`,
			wantReqs:  1,
		},
		"update is retried": {
			responses: []func(http.ResponseWriter){status(429), status(504), status(204)},
			call: func(c *Client) error {
				return c.UpdateQueue(context.Background(), "a", "q", state.QueueUpdate{Fields: state.FieldPaused, Queue: &state.Queue{Paused: ptr(true)}})
			},
			wantReqs: 3,
		},
		"connection reset on GET is retried": {
			responses: []func(http.ResponseWriter){hangUp, okJSON(`{"name":"a","value":1}`)},
			call:      func(c *Client) error { _, _, err := c.GetVariable(context.Background(), "a"); return err },
			wantReqs:  2,
		},
		// The first attempt made the queue; the answer was lost. The
		// repeat meets it and says so with a 409, which sync settles.
		"connection reset on create: sent again, 409": {
			responses: []func(http.ResponseWriter){hangUp, status(409)},
			call: func(c *Client) error {
				err := c.CreateQueue(context.Background(), &state.Queue{Pool: "a", Name: "q"})
				if err != nil && !IsConflict(err) {
					return fmt.Errorf("IsConflict false for %w", err)
				}
				return err
			},
			wantErr:  "409 Conflict",
			wantReqs: 2,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var n atomic.Int32
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				tc.responses[min(i, len(tc.responses)-1)](w)
			}, Connection{})
			err := tc.call(c.Client)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if got := StatsTotal(c.Stats()); got != tc.wantReqs || int(n.Load()) != tc.wantReqs {
				t.Errorf("requests: counted %d, served %d, want %d", got, n.Load(), tc.wantReqs)
			}
			if tc.checkWait != nil {
				tc.checkWait(t, c.sleeps)
			}
		})
	}
}

func status(code int) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { w.WriteHeader(code) }
}

func okJSON(body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}
}

func retryAfterHeader(v string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", v)
		w.WriteHeader(429)
	}
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.(*net.TCPConn).SetLinger(0) // RST, not FIN
		_ = conn.Close()
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		cancel()
		w.WriteHeader(503)
	}, Connection{})
	_, err := c.GetPool(ctx, "a")
	if !errors.Is(err, context.Canceled) && !strings.Contains(fmt.Sprint(err), "503") {
		t.Fatalf("error = %v", err)
	}
	if n := StatsTotal(c.Stats()); n != 1 {
		t.Errorf("%d requests after cancel, want 1", n)
	}
}

// The client counts the answers that say the server is overloaded (429,
// 502, 503, 504) and the attempts that time out: the signal sync's window
// adapts to. A 500 or a 404 is no such signal.
func TestOverloadsCounted(t *testing.T) {
	responses := []func(http.ResponseWriter){status(503), status(429), status(500), status(504), okJSON(`{"name":"a","type":"process"}`)}
	var n int
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		responses[min(n, len(responses)-1)](w)
		n++
	}, Connection{})
	if _, err := c.GetPool(context.Background(), "a"); err == nil {
		t.Fatal("a 500 was retried")
	}
	if got := c.Overloads(); got != 2 {
		t.Errorf("%d overloads after 503, 429, 500, want 2", got)
	}
	n = 3
	if _, err := c.GetPool(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if got := c.Overloads(); got != 3 {
		t.Errorf("%d overloads after a 504 more, want 3", got)
	}
}
