// Package upstream talks to the central CRM (or to a hub crmedge, which
// speaks the same dialects at the same paths): the Client behind read-through
// and the accumulate pass-through, and the Forwarder that drains the outbox.
package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"crmedge/edge"
)

// Defaults of Options.
const (
	DefaultConcurrency    = 8
	DefaultTimeout        = time.Second
	DefaultForwardTimeout = 15 * time.Second
	DefaultMaxBackoff     = 30 * time.Second
)

// maxAnswer caps how much of an upstream answer is read.
const maxAnswer = 1 << 20

// maxHistoryPages bounds a history import (20 entries a page).
const maxHistoryPages = 500

// historyBudget is how many Options.Timeout a whole history import may take,
// every page included. A till waits on the import (read-through and the
// accumulate pass-through run it before answering), so it is bounded like a
// few synchronous calls, not by maxHistoryPages of them. An import cut short
// is an error, which the edge takes as "not imported yet": the till is
// answered without it, and a later call through the central imports it.
const historyBudget = 3

// Options configure a Client.
type Options struct {
	BaseURL string // the central CRM, e.g. https://crm.example.com (a path prefix is kept)
	Token   string // sent as Authorization: Bearer and Api-Key
	EdgeID  string // sent as X-Edge-Id
	// Concurrency is how many customers' events are forwarded in parallel
	// (default 8).
	Concurrency int
	// Timeout bounds the synchronous calls a till waits for: read-through and
	// the accumulate pass-through (default 1 s).
	Timeout time.Duration
	// ForwardTimeout bounds one forwarded event (default 15 s): the till is
	// not waiting, so a slow central is given time.
	ForwardTimeout time.Duration
	// MaxBackoff caps the retry backoff (default 30 s).
	MaxBackoff time.Duration
	Logger     *slog.Logger
	// Now is the clock of the status times (default time.Now).
	Now func() time.Time
	// Transport replaces the HTTP transport (tests).
	Transport http.RoundTripper
}

// Client is the central CRM as edge.Upstream. It keeps the reachability the
// sync status shows: online when the last attempt got an HTTP answer (any
// status), offline after a network error or timeout, and before any answer.
type Client struct {
	base string
	opts Options
	http *http.Client
	wake chan struct{}

	mu          sync.Mutex
	online      bool
	lastSuccess time.Time
	lastError   string
	lastAttempt time.Time // when the last attempt ended, answered or not
}

var _ edge.Upstream = (*Client)(nil)

// New returns a client for the central CRM at opts.BaseURL.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(opts.BaseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("upstream URL %q: want http(s)://host[:port][/prefix]", opts.BaseURL)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.ForwardTimeout <= 0 {
		opts.ForwardTimeout = DefaultForwardTimeout
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	rt := opts.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = http.ProxyFromEnvironment
		t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = 5 * time.Second
		// One kept-alive connection per parallel stream, plus the till's
		// synchronous calls: without this, Go keeps 2 and redials the rest.
		t.MaxIdleConnsPerHost = opts.Concurrency + 4
		t.MaxIdleConns = opts.Concurrency + 4
		t.IdleConnTimeout = 90 * time.Second
		rt = t
	}
	return &Client{
		base: strings.TrimRight(u.String(), "/"),
		opts: opts,
		http: &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is an answer, not something to follow with our token
		}},
		wake: make(chan struct{}, 1),
	}, nil
}

// Notify tells the forwarder that an event was queued. It never blocks; use
// it as edge.Config.Notify.
func (c *Client) Notify() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Status reports what the last attempt to reach the central CRM found.
func (c *Client) Status() edge.UpstreamStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return edge.UpstreamStatus{Online: c.online, LastSuccess: c.lastSuccess, LastError: c.lastError}
}

// offline reports whether the last attempt failed to reach the central.
func (c *Client) offline() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.online && c.lastError != ""
}

func (c *Client) sinceLastAttempt() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastAttempt.IsZero() {
		return time.Duration(1<<63 - 1)
	}
	return c.opts.Now().Sub(c.lastAttempt)
}

// answer is one HTTP exchange with the central.
type answer struct {
	status int
	body   []byte
	header http.Header
}

// request describes one call.
type request struct {
	method, path, query string
	body                []byte
	key                 string // Idempotency-Key
	timeout             time.Duration
	auth                bool
	good                func(status int) bool // an answer that counts as a success for the status
	probe               bool                  // any answer marks online; success and error are left as they are
}

// errNoAnswer wraps a failure to get an HTTP answer: a network error or a
// timeout. Its text names the method and path, never the query (phones).
type errNoAnswer struct{ msg string }

func (e *errNoAnswer) Error() string { return e.msg }

// send performs one call and records what it found. A call abandoned because
// ctx ended (shutdown, the till hung up) records nothing: it says nothing
// about the central.
func (c *Client) send(ctx context.Context, r request) (*answer, error) {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	target := c.base + r.path
	if r.query != "" {
		target += "?" + r.query
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(cctx, r.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	h := req.Header
	if r.auth && c.opts.Token != "" {
		h.Set("Authorization", "Bearer "+c.opts.Token)
		h.Set("Api-Key", c.opts.Token)
	}
	if c.opts.EdgeID != "" {
		h.Set("X-Edge-Id", c.opts.EdgeID)
	}
	if r.key != "" {
		h.Set("Idempotency-Key", r.key)
	}
	if r.body != nil {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Accept", "application/json")
	h.Set("User-Agent", "crmedge")
	resp, err := c.http.Do(req)
	var a *answer
	if err == nil {
		a = &answer{status: resp.StatusCode, header: resp.Header}
		a.body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		resp.Body.Close()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", r.method, r.path, ctx.Err())
		}
		nerr := &errNoAnswer{msg: describe(r.method, r.path, err, r.timeout)}
		c.record(false, false, nerr.msg)
		return nil, nerr
	}
	switch {
	case r.probe:
		c.record(true, false, "")
	case r.good(a.status):
		c.record(true, true, "")
	default:
		c.record(true, false, fmt.Sprintf("%s %s: HTTP %d", r.method, r.path, a.status))
	}
	return a, nil
}

// record updates the reachability after an attempt.
func (c *Client) record(answered, success bool, errText string) {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastAttempt = now
	c.online = answered
	switch {
	case success:
		c.lastSuccess, c.lastError = now, ""
	case errText != "":
		c.lastError = errText
	}
}

// describe renders a transport error without the URL (its query holds phone
// numbers) and without anything the server sent.
func describe(method, path string, err error, timeout time.Duration) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var dnsErr *net.DNSError
	var errno syscall.Errno
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("%s %s: no answer within %s", method, path, timeout)
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("%s %s: %s", method, path, dnsErr.Error())
	case errors.As(err, &errno):
		return fmt.Sprintf("%s %s: %s", method, path, errno.Error())
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("%s %s: connection closed without an answer", method, path)
	}
	return fmt.Sprintf("%s %s: %v", method, path, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func is2xx(status int) bool { return status >= 200 && status <= 299 }

// FetchMember asks the central for the member with this phone (at posID when
// given): GET /customers_location?phone=<national form>&pos_id=. It returns
// nil, nil when the central has none.
func (c *Client) FetchMember(ctx context.Context, e164, posID string) (*edge.Customer, error) {
	q := url.Values{"phone": {edge.DisplayPhone(e164)}}
	if posID != "" {
		q.Set("pos_id", posID)
	}
	a, err := c.send(ctx, request{method: http.MethodGet, path: "/customers_location", query: q.Encode(),
		timeout: c.opts.Timeout, auth: true, good: func(s int) bool { return s == 200 || s == 404 }})
	if err != nil {
		return nil, err
	}
	switch a.status {
	case http.StatusOK:
		cust, err := edge.DecodeMember(a.body)
		if err != nil {
			return nil, fmt.Errorf("GET /customers_location: %w", err)
		}
		return cust, nil
	case http.StatusNotFound:
		return nil, nil
	}
	return nil, fmt.Errorf("GET /customers_location: HTTP %d", a.status)
}

// FetchHistory reads the central's ledger for a customer, every page of
// GET /history-point?phone= (or email= when the contact has no phone), within
// historyBudget × Options.Timeout.
func (c *Client) FetchHistory(ctx context.Context, ct edge.Contact) ([]edge.LedgerEntry, error) {
	q := url.Values{}
	switch {
	case len(ct.Phones) > 0:
		q.Set("phone", edge.DisplayPhone(ct.Phones[0]))
	case len(ct.Emails) > 0:
		q.Set("email", ct.Emails[0])
	default:
		return nil, nil
	}
	budget := historyBudget * c.opts.Timeout
	hctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	var out []edge.LedgerEntry
	for page := 1; page <= maxHistoryPages; page++ {
		q.Set("page", fmt.Sprint(page))
		a, err := c.send(hctx, request{method: http.MethodGet, path: "/history-point", query: q.Encode(),
			timeout: c.opts.Timeout, auth: true, good: is2xx})
		if err != nil {
			if ctx.Err() == nil && hctx.Err() != nil {
				return nil, fmt.Errorf("GET /history-point: not every page within %s (%d read)", budget, page-1)
			}
			return nil, err
		}
		if !is2xx(a.status) {
			return nil, fmt.Errorf("GET /history-point: HTTP %d", a.status)
		}
		entries, err := edge.DecodeHistory(a.body)
		if err != nil {
			return nil, fmt.Errorf("GET /history-point: %w", err)
		}
		out = append(out, entries...)
		if len(entries) < edge.HistoryPageSize && pageItems(a.body) < edge.HistoryPageSize {
			break
		}
	}
	return out, nil
}

// pageItems counts a history page's items. DecodeHistory drops the types it
// does not know, so a page it returns short of HistoryPageSize entries may
// still be full; only then is the page counted, by a decode that keeps
// nothing of the items.
func pageItems(body []byte) int {
	var items []struct{}
	if err := json.Unmarshal(body, &items); err != nil {
		return 0 // not reached: DecodeHistory read the same body
	}
	return len(items)
}

// Accumulate sends an accumulate call straight to the central (a code the
// local catalog does not know) and returns its answer. call.Key, when set, is
// the Idempotency-Key.
func (c *Client) Accumulate(ctx context.Context, call edge.Call) (int, []byte, error) {
	a, err := c.send(ctx, request{method: http.MethodPost, path: "/accumulate", query: call.Query, body: call.Body,
		key: call.Key, timeout: c.opts.Timeout, auth: true, good: is2xx})
	if err != nil {
		return 0, nil, err
	}
	return a.status, a.body, nil
}

// forward replays one outbox event as its dialect call.
func (c *Client) forward(ctx context.Context, ev *edge.Event) (*answer, error) {
	body := ev.Call.Body
	if body == nil && ev.Call.Method != http.MethodGet {
		body = []byte{}
	}
	return c.send(ctx, request{method: ev.Call.Method, path: ev.Call.Path, query: ev.Call.Query, body: body,
		key: ev.ID, timeout: c.opts.ForwardTimeout, auth: true, good: is2xx})
}

// probe checks cheaply whether the central answers at all: GET /healthz,
// without credentials. Any HTTP answer, even a 404, means it is reachable.
func (c *Client) probe(ctx context.Context) {
	_, _ = c.send(ctx, request{method: http.MethodGet, path: "/healthz", timeout: c.opts.Timeout, probe: true})
}
