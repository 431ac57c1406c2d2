// Package faultproxy is a test-only HTTP(S) proxy that sits between a client
// and a real server and injects faults: connection resets, 500/502/503,
// 429 with Retry-After, added latency, a response cut off midway, a hang
// past the client's request timeout, and a whole connection dropped with
// every request on it.
//
// Each request draws from a seeded random source: with probability Rate it
// gets one fault, picked uniformly from Kinds. Requests that arrive one at a
// time therefore get the same faults for the same seed; concurrent requests
// draw in arrival order. The proxy counts the faults it injected by kind.
//
// The proxy speaks HTTP/1.1 to its clients, plain or, with TLS set, over TLS
// with a certificate signed by a CA of its own (CAPEM); with HTTP2 also
// set, it offers HTTP/2 as well, as a kube-apiserver does. A client that
// trusts that CA, for example through a rewritten kubeconfig, talks to it
// as to the real server, and the proxy forwards each request upstream with
// its own transport (for a kube-apiserver: the kubeconfig's CA and client
// certificate). Terminating TLS is what makes HTTP-level faults possible in
// front of an HTTPS server.
package faultproxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind is a fault.
type Kind string

// The faults.
const (
	// Reset closes the client's connection with a TCP RST, either before
	// the request is forwarded or after the server answered it (the
	// server's work is done, its answer lost). Over HTTP/2 it resets the
	// request's stream (RST_STREAM, INTERNAL_ERROR) instead.
	Reset Kind = "reset"
	// Status500, Status502 and Status503 answer with that status and a
	// small HTML page, as a load balancer does, either instead of
	// forwarding (the server did nothing) or in place of the server's
	// answer (the server did the work; a client that takes a 503 for "not
	// done" and sends a create again finds it done).
	Status500 Kind = "500"
	Status502 Kind = "502"
	Status503 Kind = "503"
	// TooManyRequests answers 429 with a Retry-After header, without
	// forwarding.
	TooManyRequests Kind = "429"
	// Latency delays the request by about Options.Latency, then forwards it.
	Latency Kind = "latency"
	// CutOff forwards the request and sends the server's answer cut off
	// midway (the headers and half the body; half the headers when there
	// is no body), then closes the connection. Over HTTP/2 it sends the
	// headers and half the body, then resets the stream.
	CutOff Kind = "cutoff"
	// Hang holds the request, before forwarding it or after the server
	// answered, until the client gives up (its request timeout) or
	// Options.HangMax passes; then it closes the connection (over HTTP/2,
	// resets the stream).
	Hang Kind = "hang"
	// Drop closes the client's whole connection with a TCP RST, before
	// the request is forwarded or after the server answered it. Over
	// HTTP/1.1, where a connection carries one request at a time, that is
	// Reset; over HTTP/2 every request in flight on the connection fails
	// with it, as when a load balancer or the server itself goes away.
	Drop Kind = "drop"
)

// Kinds lists every fault, in a stable order.
var Kinds = []Kind{Reset, Status500, Status502, Status503, TooManyRequests, Latency, CutOff, Hang, Drop}

// Options configure a proxy.
type Options struct {
	// Upstream is the server's base URL (scheme and host; a path is
	// ignored): requests keep their path and query.
	Upstream string
	// Transport sends requests upstream; nil means a plain keep-alive
	// transport.
	Transport http.RoundTripper
	// TLS serves HTTPS with a certificate for 127.0.0.1 and localhost
	// signed by the proxy's own CA (CAPEM).
	TLS bool
	// HTTP2, with TLS, offers HTTP/2 besides HTTP/1.1; a client that
	// speaks it (client-go does) gets its faults as HTTP/2 has them.
	HTTP2 bool
	// Seed seeds the fault choices.
	Seed uint64
	// Rate is the probability that a request gets a fault (0 to 1).
	Rate float64
	// Faults are the kinds to choose from; empty means all of Kinds.
	Faults []Kind
	// Latency is the mean added delay (uniform in [L/2, 3L/2]); default
	// 300 ms.
	Latency time.Duration
	// RetryAfter is the Retry-After of a 429, in seconds; default 1.
	RetryAfter int
	// HangMax bounds a hang when the client does not give up; default 2
	// minutes.
	HangMax time.Duration
	// Eligible, when set, limits faults to the requests it accepts.
	Eligible func(*http.Request) bool
}

// Event is one request the proxy handled.
type Event struct {
	Method, Path string
	// Proto is the client's protocol: "HTTP/1.1" or "HTTP/2.0".
	Proto string
	// Fault is the fault injected, or "".
	Fault Kind
	// After is true when the fault came after the server answered.
	After bool
	// Status is the server's status when the request was forwarded.
	Status int
	// Err is why forwarding failed (the proxy then answers 502 itself,
	// which is not counted as a fault).
	Err string
}

func (e Event) String() string {
	s := e.Method + " " + e.Path
	if e.Status != 0 {
		s += " -> " + strconv.Itoa(e.Status)
	}
	if e.Err != "" {
		s += " (forwarding failed: " + e.Err + ")"
	}
	if e.Fault != "" {
		when := "before forwarding"
		if e.After {
			when = "after the server answered"
		}
		s += fmt.Sprintf(" [%s %s]", e.Fault, when)
	}
	return s
}

// Proxy is a running fault proxy.
type Proxy struct {
	opts     Options
	upstream *url.URL
	ln       net.Listener
	srv      *http.Server
	url      string
	caPEM    []byte
	closed   chan struct{}
	closeMu  sync.Once

	mu        sync.Mutex
	rng       *rand.Rand
	rate      float64
	counts    map[Kind]int
	requests  int
	events    []Event
	forwarded []Event
}

// Start starts a proxy on 127.0.0.1 on a free port.
func Start(opts Options) (*Proxy, error) {
	up, err := url.Parse(opts.Upstream)
	if err != nil || up.Scheme == "" || up.Host == "" {
		return nil, fmt.Errorf("faultproxy: upstream %q is not an absolute URL", opts.Upstream)
	}
	if opts.HTTP2 && !opts.TLS {
		return nil, fmt.Errorf("faultproxy: HTTP2 needs TLS")
	}
	if opts.Rate < 0 || opts.Rate > 1 {
		return nil, fmt.Errorf("faultproxy: rate %v is not between 0 and 1", opts.Rate)
	}
	if len(opts.Faults) == 0 {
		opts.Faults = Kinds
	}
	for _, k := range opts.Faults {
		if !known(k) {
			return nil, fmt.Errorf("faultproxy: unknown fault %q", k)
		}
	}
	if opts.Latency <= 0 {
		opts.Latency = 300 * time.Millisecond
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 1
	}
	if opts.HangMax <= 0 {
		opts.HangMax = 2 * time.Minute
	}
	if opts.Transport == nil {
		// A connection per request: a kept-alive connection that the
		// server closes as a request goes out would fail that request
		// with a fault nobody chose.
		opts.Transport = &http.Transport{DisableKeepAlives: true}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	p := &Proxy{
		opts:     opts,
		upstream: &url.URL{Scheme: up.Scheme, Host: up.Host},
		ln:       ln,
		closed:   make(chan struct{}),
		rng:      rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		rate:     opts.Rate,
		counts:   map[Kind]int{},
	}
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		// Drop needs the connection an HTTP/2 request came on.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	protos := []string{"http/1.1"}
	if opts.HTTP2 {
		protos = []string{"h2", "http/1.1"}
	} else {
		// A non-nil empty map keeps HTTP/2 off.
		p.srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	scheme := "http"
	serveLn := ln
	if opts.TLS {
		cert, caPEM, err := newCertificate()
		if err != nil {
			ln.Close()
			return nil, err
		}
		p.caPEM = caPEM
		serveLn = tls.NewListener(ln, &tls.Config{
			Certificates: []tls.Certificate{cert},
			NextProtos:   protos,
			MinVersion:   tls.VersionTLS12,
		})
		scheme = "https"
	}
	p.url = scheme + "://" + ln.Addr().String()
	go func() { _ = p.srv.Serve(serveLn) }()
	return p, nil
}

func known(k Kind) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// URL is the proxy's base URL, e.g. http://127.0.0.1:40123.
func (p *Proxy) URL() string { return p.url }

// CAPEM is the PEM certificate of the CA that signed the proxy's TLS
// certificate, or nil without TLS.
func (p *Proxy) CAPEM() []byte { return p.caPEM }

// SetRate changes the fault rate; 0 turns faults off.
func (p *Proxy) SetRate(rate float64) {
	p.mu.Lock()
	p.rate = rate
	p.mu.Unlock()
}

// Counts returns the faults injected so far, by kind.
func (p *Proxy) Counts() map[Kind]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[Kind]int, len(p.counts))
	for k, n := range p.counts {
		out[k] = n
	}
	return out
}

// Injected is the number of faults injected so far.
func (p *Proxy) Injected() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.counts {
		n += c
	}
	return n
}

// Requests is the number of requests received so far.
func (p *Proxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Events returns the requests handled so far, in the order they finished.
func (p *Proxy) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.events...)
}

// Forwarded returns the requests that reached the server, in the order its
// answers came back, each recorded as soon as it did: before the client
// sees the answer or the fault that replaces it.
func (p *Proxy) Forwarded() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.forwarded...)
}

// ForwardErrors returns the requests the proxy could not forward, one line
// each (the client got the proxy's own 502, or had gone away).
func (p *Proxy) ForwardErrors() []string {
	var out []string
	for _, e := range p.Events() {
		if e.Err != "" {
			out = append(out, e.String())
		}
	}
	return out
}

// Faults returns the events that carry a fault, one line each.
func (p *Proxy) Faults() []string {
	var out []string
	for _, e := range p.Events() {
		if e.Fault != "" {
			out = append(out, e.String())
		}
	}
	return out
}

// Close stops the proxy and ends every hang.
func (p *Proxy) Close() {
	p.closeMu.Do(func() {
		close(p.closed)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.srv.Shutdown(ctx)
		_ = p.srv.Close()
	})
}

// decision is what happens to one request.
type decision struct {
	fault   Kind
	after   bool
	latency time.Duration
}

func (p *Proxy) decide(r *http.Request) decision {
	eligible := p.opts.Eligible == nil || p.opts.Eligible(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	if !eligible || p.rate <= 0 || p.rng.Float64() >= p.rate {
		return decision{}
	}
	d := decision{fault: p.opts.Faults[p.rng.IntN(len(p.opts.Faults))]}
	switch d.fault {
	case Reset, Status500, Status502, Status503, Hang, Drop:
		d.after = p.rng.IntN(2) == 1
	case Latency:
		l := p.opts.Latency
		d.latency = l/2 + time.Duration(p.rng.Int64N(int64(l)+1))
	case CutOff:
		d.after = true
	}
	p.counts[d.fault]++
	return d
}

func (p *Proxy) record(e Event) {
	p.mu.Lock()
	p.events = append(p.events, e)
	p.mu.Unlock()
}

// ServeHTTP forwards one request, with or without a fault. The request is
// recorded before the client can see its outcome.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := p.decide(r)
	ev := Event{Method: r.Method, Path: r.URL.RequestURI(), Proto: r.Proto, Fault: d.fault, After: d.after}
	var once sync.Once
	done := func() { once.Do(func() { p.record(ev) }) }
	defer done()

	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away
	}
	if !d.after {
		switch d.fault {
		case Reset:
			done()
			reset(w)
			return
		case Drop:
			done()
			drop(w, r)
			return
		case Status500, Status502, Status503:
			code, _ := strconv.Atoi(string(d.fault))
			done()
			page(w, code, nil, injected)
			return
		case TooManyRequests:
			done()
			page(w, http.StatusTooManyRequests, http.Header{"Retry-After": {strconv.Itoa(p.opts.RetryAfter)}}, injected)
			return
		case Hang:
			p.hang(r)
			done()
			reset(w)
			return
		case Latency:
			select {
			case <-time.After(d.latency):
			case <-r.Context().Done():
				return
			case <-p.closed:
				return
			}
		}
	}

	resp, respBody, err := p.forward(r, body)
	if err != nil {
		ev.Err = err.Error()
		done()
		page(w, http.StatusBadGateway, nil, "faultproxy could not reach the server") // not a fault
		return
	}
	ev.Status = resp.StatusCode
	p.mu.Lock()
	p.forwarded = append(p.forwarded, ev)
	p.mu.Unlock()
	switch {
	case d.fault == Reset:
		done()
		reset(w)
		return
	case d.fault == Drop:
		done()
		drop(w, r)
		return
	case d.fault == Status500 || d.fault == Status502 || d.fault == Status503:
		code, _ := strconv.Atoi(string(d.fault))
		done()
		page(w, code, nil, injected)
		return
	case d.fault == Hang:
		p.hang(r)
		done()
		reset(w)
		return
	case d.fault == CutOff:
		done()
		cutOff(w, resp, respBody)
		return
	}
	done()
	copyHeader(w.Header(), resp.Header)
	w.Header().Set("Content-Length", strconv.Itoa(len(respBody)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
}

// hopHeaders are not forwarded (RFC 9110, section 7.6.1).
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = append([]string(nil), vs...)
	}
	for _, h := range hopHeaders {
		dst.Del(h)
	}
}

// forward sends the request upstream and reads the whole answer.
func (p *Proxy) forward(r *http.Request, body []byte) (*http.Response, []byte, error) {
	target := *p.upstream
	target.Path = r.URL.Path
	target.RawPath = r.URL.RawPath
	target.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	copyHeader(out.Header, r.Header)
	out.Header.Del("Content-Length")
	out.ContentLength = int64(len(body))
	if len(body) == 0 {
		out.Body = http.NoBody
	}
	resp, err := p.opts.Transport.RoundTrip(out)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	return resp, data, nil
}

// hang waits until the client gives up, the proxy closes or HangMax passes.
func (p *Proxy) hang(r *http.Request) {
	t := time.NewTimer(p.opts.HangMax)
	defer t.Stop()
	select {
	case <-r.Context().Done():
	case <-p.closed:
	case <-t.C:
	}
}

const injected = "injected by faultproxy"

// page answers with a status and a small HTML page, as a load balancer does.
func page(w http.ResponseWriter, code int, h http.Header, note string) {
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(code)
	fmt.Fprintf(w, "<html><head><title>%d %s</title></head><body><h1>%d %s</h1><p>%s</p></body></html>\n",
		code, http.StatusText(code), code, http.StatusText(code), note)
}

// reset closes the client's connection with a TCP RST; over HTTP/2,
// where a connection carries other requests, it resets the stream.
func reset(w http.ResponseWriter) {
	if conn := hijack(w); conn != nil {
		abort(conn)
	}
}

// connKey holds a request's client connection in its context.
type connKey struct{}

// drop closes the client's whole connection with a TCP RST. Over HTTP/1.1
// that is reset; over HTTP/2 every stream on the connection goes with it.
func drop(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 2 {
		reset(w)
		return
	}
	if conn, ok := r.Context().Value(connKey{}).(net.Conn); ok {
		abort(conn)
	}
	panic(http.ErrAbortHandler)
}

// abort closes a connection with a TCP RST rather than a FIN.
func abort(conn net.Conn) {
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}

// cutOff writes the answer's headers and the first half of its body (half
// the headers when it has no body) and closes the connection. An HTTP/2
// stream, which cannot be taken over, gets cutOffStream.
func cutOff(w http.ResponseWriter, resp *http.Response, body []byte) {
	if _, ok := w.(http.Hijacker); !ok {
		cutOffStream(w, resp, body)
	}
	var buf bytes.Buffer
	h := http.Header{}
	copyHeader(h, resp.Header)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	fmt.Fprintf(&buf, "HTTP/1.1 %d %s\r\n", resp.StatusCode, http.StatusText(resp.StatusCode))
	_ = h.Write(&buf)
	buf.WriteString("\r\n")
	cut := buf.Len() / 2 // no body: half the headers
	if len(body) > 0 {
		cut = buf.Len() + len(body)/2
	}
	buf.Write(body)
	conn := hijack(w)
	if conn == nil {
		return
	}
	_, _ = conn.Write(buf.Bytes()[:cut])
	_ = conn.Close()
}

// cutOffStream sends the answer's headers and the first half of its body,
// then resets the stream (HTTP/2).
func cutOffStream(w http.ResponseWriter, resp *http.Response, body []byte) {
	copyHeader(w.Header(), resp.Header)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body[:len(body)/2])
	_ = http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}

// hijack takes the connection over (HTTP/1.1). An HTTP/2 stream cannot be
// taken over: it is reset, which the server does when a handler panics
// with ErrAbortHandler.
func hijack(w http.ResponseWriter) net.Conn {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return nil
	}
	return conn
}

// Summary formats counts as "reset=3 500=1", kinds in order.
func Summary(counts map[Kind]int) string {
	var parts []string
	for _, k := range Kinds {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, counts[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}
