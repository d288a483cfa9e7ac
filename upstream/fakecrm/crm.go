package fakecrm

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a CRM.
type Options struct {
	// Token, when set, must come as "Authorization: Bearer <Token>" or
	// "Api-Key: <Token>" on every dialect request; others get 401.
	Token string
	// Org is the organisation id shown in /history-point items; minted when empty.
	Org string
	// AcceptUnknownCodes makes /accumulate accept a code missing from the
	// catalog (once, like any code), earning DefaultScore points of a product
	// named DEFAULT. Without it such a code is 404 code_not_found.
	AcceptUnknownCodes bool
	// DefaultScore is the score of unknown codes (and of codes whose product
	// was never added); 100 when zero.
	DefaultScore int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// maxBody is the largest request body the fake accepts, as the edge does (SPEC §8).
const maxBody = 1 << 20

// CRM is an in-memory central CRM. It is an http.Handler and is safe for
// concurrent use. Serve it with Serve (or NewServer), or mount it in any
// http.Server; in the latter case call Close too, so that black-holed
// connections and requests sleeping out an injected latency are released.
type CRM struct {
	opts    Options
	now     func() time.Time
	control http.Handler // the /_fake/ endpoints

	// mu guards everything below it. Dialect requests are processed entirely
	// under mu, which makes "look up the Idempotency-Key, apply, store the
	// answer" atomic and keeps Received in apply order.
	mu      sync.Mutex
	store   *store
	faults  faults
	rec     recorder
	closing bool
	srv     *http.Server
	held    map[net.Conn]struct{} // black-holed connections, closed by Close

	closed   chan struct{} // closed by Close: wakes requests waiting out latency
	handlers sync.WaitGroup
}

// New returns an empty central CRM with no faults.
func New(opts Options) *CRM {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	c := &CRM{
		opts:   opts,
		now:    now,
		store:  newStore(opts, now),
		rec:    newRecorder(),
		held:   map[net.Conn]struct{}{},
		closed: make(chan struct{}),
	}
	c.control = c.controlMux()
	return c
}

// NewServer starts a CRM listening on 127.0.0.1 on a free port and returns
// it with its base URL (http://127.0.0.1:PORT). Stop it with Close.
func NewServer(opts Options) (*CRM, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	c := New(opts)
	go func() { _ = c.Serve(l) }()
	return c, "http://" + l.Addr().String(), nil
}

// Serve accepts connections on l until Close. Like http.Server.Serve it
// always returns a non-nil error, http.ErrServerClosed after Close.
func (c *CRM) Serve(l net.Listener) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		l.Close()
		return http.ErrServerClosed
	}
	if c.srv == nil {
		c.srv = &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	}
	srv := c.srv
	c.mu.Unlock()
	return srv.Serve(l)
}

// Close stops the server started by Serve, drops black-holed connections,
// wakes requests waiting out latency, and returns once every handler has
// returned. It is safe to call more than once.
func (c *CRM) Close() error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	srv := c.srv
	held := slices.Collect(maps.Keys(c.held))
	c.mu.Unlock()

	close(c.closed)
	var err error
	if srv != nil {
		err = srv.Close()
	}
	for _, conn := range held {
		conn.Close()
	}
	c.handlers.Wait()
	return err
}

// enter registers a running handler, unless the CRM is closing. Add happens
// under mu, before Close sets closing, so it never races with Wait.
func (c *CRM) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.handlers.Add(1)
	return true
}

// ServeHTTP serves the control endpoints under /_fake/ and the dialects.
func (c *CRM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !c.enter() {
		http.Error(w, "fakecrm: closed", http.StatusServiceUnavailable)
		return
	}
	defer c.handlers.Done()
	if strings.HasPrefix(r.URL.Path, "/_fake/") {
		c.control.ServeHTTP(w, r)
		return
	}
	c.serveDialect(w, r)
}

// serveDialect runs one dialect request through the fault pipeline: faults
// at the network level first (down, reset-before, black hole), then latency,
// then, under mu, injected errors, auth, the idempotency store, rejection
// rules and the dialect handler; reset-after drops the connection last.
func (c *CRM) serveDialect(w http.ResponseWriter, r *http.Request) {
	rec := Request{
		Time:           c.now(),
		Method:         r.Method,
		Path:           r.URL.Path,
		RawQuery:       r.URL.RawQuery,
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
		EdgeID:         r.Header.Get("X-Edge-Id"),
	}
	d := dialectFor(r.URL.Path)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	rec.Body = body
	if err != nil {
		e := errorf(http.StatusBadRequest, "invalid_body", "cannot read request body")
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			e = errorf(http.StatusRequestEntityTooLarge, "too_large", "request body over 1 MiB")
		}
		writeResponse(w, c.log(rec, OutcomeServed, errorResponse(d, e)))
		return
	}

	c.mu.Lock()
	inj := c.faults.take()
	latency := c.faults.latency
	c.mu.Unlock()

	switch inj.kind {
	case faultResetBefore:
		c.log(rec, OutcomeResetBefore, response{})
		abort(w)
		return
	case faultBlackHole:
		c.log(rec, OutcomeBlackHole, response{})
		c.blackHole(w, r)
		return
	}
	if latency > 0 && !c.wait(r.Context(), latency) {
		// Returning normally would send an empty 200; drop the connection.
		c.log(rec, OutcomeCanceled, response{})
		abort(w)
		return
	}
	outcome := OutcomeServed
	if inj.kind == faultResetAfter {
		outcome = OutcomeResetAfter
	}
	resp := c.process(r, rec, inj, d, outcome)
	if outcome == OutcomeResetAfter {
		abort(w)
		return
	}
	writeResponse(w, resp)
}

// process computes the answer to rec and logs it, in one critical section.
func (c *CRM) process(r *http.Request, rec Request, inj injected, d *dialect, outcome Outcome) response {
	c.mu.Lock()
	defer c.mu.Unlock()
	resp := c.respond(r, &rec, inj, d)
	rec.Status, rec.Outcome = resp.status, outcome
	c.rec.add(rec)
	return resp
}

// respond is the body of process; it may mark rec Applied or Duplicate.
func (c *CRM) respond(r *http.Request, rec *Request, inj injected, d *dialect) response {
	switch inj.kind {
	case faultFail:
		return errorResponse(d, errorf(inj.status, "unavailable", "injected failure (fakecrm)"))
	case faultRateLimit:
		resp := errorResponse(d, errorf(http.StatusTooManyRequests, "rate_limited", "too many requests"))
		resp.header = http.Header{"Retry-After": {strconv.Itoa(inj.retryAfter)}}
		return resp
	}
	if !c.authorized(r) {
		return errorResponse(d, errorf(http.StatusUnauthorized, "unauthorized", "missing or invalid token"))
	}
	// Reads change nothing, so only writes take part in idempotency.
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	key := rec.IdempotencyKey
	if write && key != "" {
		if prev, ok := c.rec.answers[key]; ok {
			rec.Duplicate = true
			return prev
		}
	}
	if e := c.faults.rejection(r.Method, r.URL.Path, rec.Body); e != nil {
		return errorResponse(d, e)
	}
	status, body := c.store.dispatch(&call{
		method: r.Method, path: r.URL.Path, query: r.URL.Query(), body: rec.Body,
	})
	resp := response{status: status, body: body}
	if write && status >= 200 && status < 300 {
		rec.Applied = true
		if key != "" {
			c.rec.answers[key] = resp
		}
	}
	return resp
}

// log records a request whose answer was decided outside process.
func (c *CRM) log(rec Request, outcome Outcome, resp response) response {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec.Status, rec.Outcome = resp.status, outcome
	c.rec.add(rec)
	return resp
}

func (c *CRM) authorized(r *http.Request) bool {
	if c.opts.Token == "" {
		return true
	}
	auth := r.Header.Get("Authorization")
	if scheme, tok, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "Bearer") && c.tokenIs(tok) {
		return true
	}
	return c.tokenIs(r.Header.Get("Api-Key"))
}

func (c *CRM) tokenIs(s string) bool {
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(s)), []byte(c.opts.Token)) == 1
}

// wait sleeps d, and reports false if the client went away or the CRM was
// closed first.
func (c *CRM) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-c.closed:
	}
	return false
}

func errorResponse(d *dialect, e *apiError) response {
	status, body := encodeError(d, e)
	return response{status: status, body: body}
}

func writeResponse(w http.ResponseWriter, resp response) {
	h := w.Header()
	for k, v := range resp.header {
		h[k] = v
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// abort drops the connection without a response. Closing with SO_LINGER 0
// sends a TCP RST, so the client sees "connection reset by peer" (or EOF),
// never a partial answer.
func abort(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2, a recorder): the standard way to drop a
		// response. Nothing was written yet, so the client gets no answer.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// blackHole holds the connection open without answering until the client
// hangs up or Close drops it.
func (c *CRM) blackHole(w http.ResponseWriter, r *http.Request) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		select {
		case <-r.Context().Done():
		case <-c.closed:
		}
		panic(http.ErrAbortHandler)
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		conn.Close()
		return
	}
	c.held[conn] = struct{}{}
	c.mu.Unlock()

	// Reading returns once the client closes its end or Close closes conn;
	// anything the client sends meanwhile is ignored.
	_, _ = io.Copy(io.Discard, buf)

	c.mu.Lock()
	delete(c.held, conn)
	c.mu.Unlock()
	conn.Close()
}
