package apply

import (
	"context"
	"sync"
)

// limiter bounds the changes in flight and adapts the bound to what the
// servers take, as TCP's congestion control does (additive increase,
// multiplicative decrease): it starts at startWindow, grows by one change
// a window while the servers answer, and halves when they say they are
// overloaded (429, 503, a timeout; retried by the clients), at most once a
// window: the changes already in flight saw the same overload. Each
// overload costs a change a retry's wait, so the width that overloaded is
// remembered: the window stays below it, and tries it again only after
// probeAfter changes without an overload. The ceiling is --concurrency. A
// Prefect server on SQLite takes one write at a time; one on PostgreSQL
// behind several processes takes many: the same default finds either's
// width.
type limiter struct {
	mu       sync.Mutex
	cond     *sync.Cond
	max      float64
	window   float64
	inflight int
	// overloads reads the clients' count of overloaded answers; nil
	// keeps the window at max.
	overloads func() int64
	// cutAt is the overload count at the last cut: a change that started
	// before it does not cut again.
	cutAt int64
	// learned is the widest window not known to overload (max until an
	// overload); quiet counts the changes since it was last set or raised.
	learned float64
	quiet   int
}

// probeAfter is how many changes without an overload the window waits
// before it tries the width that last overloaded again.
const probeAfter = 500

// startWindow is the first window: small, so that a server that takes one
// write at a time is not flooded before the first overload says so.
const startWindow = 1

func newLimiter(max int, overloads func() int64) *limiter {
	l := &limiter{max: float64(max), window: float64(max), learned: float64(max), overloads: overloads}
	if overloads != nil {
		l.window = min(startWindow, l.max)
	}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// acquire waits for room in the window and returns the overload count at
// the start, for release; false when ctx ended first.
func (l *limiter) acquire(ctx context.Context) (int64, bool) {
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.cond.Broadcast()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for float64(l.inflight) >= max(1, l.window) {
		if ctx.Err() != nil {
			return 0, false
		}
		l.cond.Wait()
	}
	l.inflight++
	return l.count(), true
}

// release ends a change that started at overload count from, and adapts
// the window to what the servers said meanwhile.
func (l *limiter) release(from int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	defer l.cond.Broadcast()
	if l.overloads == nil {
		return
	}
	now := l.count()
	switch {
	case now > from && from >= l.cutAt:
		l.learned = max(1, float64(int(l.window))-1)
		l.window = max(1, l.window/2)
		l.cutAt, l.quiet = now, 0
	case now == from:
		l.grow()
	}
}

// grow widens the window by one change a window up to the learned width;
// at it, after probeAfter quiet changes, the learned width grows by one.
func (l *limiter) grow() {
	if l.window < l.learned {
		l.window = min(l.learned, l.window+1/l.window)
		return
	}
	if l.quiet++; l.quiet >= probeAfter && l.learned < l.max {
		l.learned++
		l.quiet = 0
	}
}

func (l *limiter) count() int64 {
	if l.overloads == nil {
		return 0
	}
	return l.overloads()
}
