package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while stopOnSignals writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestStopOnSignals(t *testing.T) {
	for _, tc := range []struct {
		first, second os.Signal
		code          int
	}{
		{os.Interrupt, os.Interrupt, 130},
		{syscall.SIGTERM, syscall.SIGTERM, 143},
		{syscall.SIGTERM, os.Interrupt, 130},
	} {
		signals := make(chan os.Signal, 2)
		ctx, cancel := context.WithCancel(context.Background())
		var stderr syncBuffer
		exited := make(chan int, 1)
		go stopOnSignals(signals, cancel, &stderr, func(code int) { exited <- code })

		signals <- tc.first
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("%v: the first signal did not cancel the context", tc.first)
		}
		if out := stderr.String(); !strings.Contains(out, "stopping") || !strings.Contains(out, "again to stop at once") {
			t.Errorf("%v: first message %q", tc.first, out)
		}
		select {
		case code := <-exited:
			t.Fatalf("%v: exited (%d) on the first signal", tc.first, code)
		case <-time.After(50 * time.Millisecond):
		}

		signals <- tc.second
		select {
		case code := <-exited:
			if code != tc.code {
				t.Errorf("%v then %v: exit %d, want %d", tc.first, tc.second, code, tc.code)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v then %v: the second signal did not exit", tc.first, tc.second)
		}
		if out := stderr.String(); !strings.Contains(out, "stopped at once") || !strings.Contains(out, "run sync again") {
			t.Errorf("second message %q", out)
		}
	}
}
