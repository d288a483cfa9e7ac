package upstream

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"crmedge/edge"
)

// Forward results, as counted by ForwarderOptions.OnResult.
const (
	ResultDelivered = "delivered"
	ResultRetry     = "retry"
	ResultDead      = "dead"
)

// ForwarderOptions configure a Forwarder. Zero values take the defaults.
type ForwarderOptions struct {
	Logger *slog.Logger
	// OnResult is called once per attempt with ResultDelivered, ResultRetry
	// or ResultDead (the metric crmedge_upstream_forward_total).
	OnResult func(result string)
	// PollInterval is how often the outbox is looked at when nothing wakes
	// the forwarder (default 1 s): events queued by another process, retries.
	PollInterval time.Duration
	// BaseBackoff is the first retry's delay (default 1 s); each further
	// retry doubles it, up to the client's MaxBackoff. The delay actually
	// waited is drawn between half of it and all of it (jitter).
	BaseBackoff time.Duration
	// ProbeInterval is how often an offline central is probed while nothing
	// else is being sent to it (default 5 s).
	ProbeInterval time.Duration
	// Rand returns a number in [0, 1) for the jitter (default math/rand/v2).
	Rand func() float64
}

// Forwarder drains the outbox: it replays each event upstream as the same
// dialect call, with the event id as Idempotency-Key. One stream's events (a
// customer's, or a customer-type scope's) go one at a time in commit order;
// different streams go in parallel, up to the client's Concurrency.
//
// The outbox is the only state: a crash, a kill -9 or a restart loses
// nothing, and an event whose answer was lost is sent again with the same
// key, which the central (or a hub crmedge) applies once.
type Forwarder struct {
	c    *Client
	svc  *edge.Service
	opts ForwarderOptions
	log  *slog.Logger
}

// NewForwarder returns a forwarder of svc's outbox through c.
func NewForwarder(c *Client, svc *edge.Service, opts ForwarderOptions) *Forwarder {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.OnResult == nil {
		opts.OnResult = func(string) {}
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = time.Second
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = 5 * time.Second
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	return &Forwarder{c: c, svc: svc, opts: opts, log: opts.Logger.With("component", "forwarder")}
}

// finished is what a worker reports when it is done with its stream's head.
type finished struct {
	stream string
	retry  time.Time // when the event is due again, if it was rescheduled
}

// Run forwards until ctx ends. It returns once every request in flight has
// been abandoned; an abandoned event stays pending and is sent again later.
func (f *Forwarder) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	conc := f.c.opts.Concurrency
	done := make(chan finished, conc) // never full: at most conc workers
	inflight := map[string]bool{}
	var retries []time.Time // when rescheduled events fall due: wake then
	timer := time.NewTimer(0)
	defer timer.Stop()
	probeTick := time.NewTicker(f.opts.ProbeInterval)
	defer probeTick.Stop()
	probing := false
	probeDone := make(chan struct{}, 1)
	wasOnline, wasOffline := false, false
	f.log.Info("forwarding", "upstream", redactURL(f.c.base), "concurrency", conc)

	// skipRead: this turn was a write's wake-up or an event's failure while
	// the central is offline, and the outbox is not read for it (below).
	skipRead := false
	for {
		if ctx.Err() != nil {
			return
		}
		// An offline central is tried with one event at a time: the others
		// would only fail the same way.
		offline := f.c.offline()
		capacity := conc
		if offline {
			capacity = 1
		}
		if free := capacity - len(inflight); free > 0 && !skipRead {
			skip := make([]string, 0, len(inflight))
			for s := range inflight {
				skip = append(skip, s)
			}
			evs, err := f.svc.DueEvents(ctx, free, skip)
			if err != nil && ctx.Err() == nil {
				f.log.Error("read the outbox", "err", err)
			}
			for _, ev := range evs {
				inflight[ev.Stream] = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					done <- finished{stream: ev.Stream, retry: f.deliver(ctx, ev)}
				}()
			}
		}

		skipRead = false
		// Offline, the outbox is read when a retry falls due, when a probe
		// finds the central back, and at the probe interval, not every poll
		// interval: finding the due events reads past every pending one, and
		// a backlog grows while the line is down.
		wait := f.opts.PollInterval
		if offline {
			wait = max(wait, f.opts.ProbeInterval)
		}
		var target time.Time
		if len(retries) > 0 {
			target = retries[0]
			for _, t := range retries[1:] {
				if t.Before(target) {
					target = t
				}
			}
			wait = min(wait, max(target.Sub(f.svc.Now()), 0))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case d := <-done:
			f.collect(d, inflight, &retries)
			for more := true; more; {
				select {
				case d := <-done:
					f.collect(d, inflight, &retries)
				default:
					more = false
				}
			}
			// The central just failed an event: the next waits for the
			// timer, not for the end of this one.
			skipRead = f.c.offline()
		case <-f.c.wake:
			// A write committed. Offline, its event waits with the rest
			// (the probe and the retry timer say when to try again):
			// reading the outbox for each of the tills' writes would read the
			// whole backlog every time, and send one futile request each.
			skipRead = f.c.offline()
		case <-timer.C:
			if !target.IsZero() {
				now := f.svc.Now()
				kept := retries[:0]
				for _, t := range retries {
					if t.After(target) && t.After(now) {
						kept = append(kept, t)
					}
				}
				retries = kept
			}
		case <-probeDone:
			probing = false
		case <-probeTick.C:
			// Nothing is being sent to an offline central: ask it cheaply
			// whether it is back, so read-through resumes and the backlog
			// goes without waiting out its backoff.
			if !probing && len(inflight) == 0 && f.c.offline() && f.c.sinceLastAttempt() >= f.opts.ProbeInterval {
				probing = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					f.c.probe(ctx)
					probeDone <- struct{}{}
				}()
			}
		}

		st := f.c.Status()
		switch {
		case st.Online && !wasOnline:
			// Back (or up for the first time): what failed for want of an
			// answer need not wait out its backoff.
			n, err := f.svc.ExpediteRetries(ctx)
			if err != nil && ctx.Err() == nil {
				f.log.Error("expedite retries", "err", err)
			}
			if wasOffline {
				f.log.Info("upstream reachable again", "expedited", n)
			}
			wasOnline, wasOffline = true, false
		case !st.Online && st.LastError != "" && !wasOffline:
			f.log.Warn("upstream unreachable; writes are kept and forwarded when it is back", "err", st.LastError)
			wasOnline, wasOffline = false, true
		}
	}
}

func (f *Forwarder) collect(d finished, inflight map[string]bool, retries *[]time.Time) {
	delete(inflight, d.stream)
	if !d.retry.IsZero() {
		*retries = append(*retries, d.retry)
	}
}

// verdict is what an attempt means for its event.
type verdict int

const (
	delivered verdict = iota
	retry
	dead
)

// classify: 2xx delivered; no answer, 408, 429 and 5xx retried; any other
// 4xx is the central refusing the write for good. A 3xx (not followed: the
// token must not go elsewhere) says the URL is wrong, not the write: retried,
// and shown in last_error until --upstream is fixed.
func classify(status int, err error) verdict {
	switch {
	case err != nil:
		return retry
	case status >= 200 && status <= 299:
		return delivered
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500, status < 400:
		return retry
	}
	return dead
}

// deliver makes one attempt at ev and records its outcome. It returns when
// the event is due again if it was rescheduled.
func (f *Forwarder) deliver(ctx context.Context, ev edge.Event) time.Time {
	a, err := f.c.forward(ctx, &ev)
	if err != nil && ctx.Err() != nil {
		return time.Time{} // shutting down: the event stays pending as it was
	}
	// The outcome is recorded even if ctx ends meanwhile: an answer received
	// must not be forgotten.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	status := 0
	if a != nil {
		status = a.status
	}
	log := f.log.With("event", ev.ID, "kind", ev.Kind, "path", ev.Call.Path)
	switch classify(status, err) {
	case delivered:
		if err := f.svc.EventDelivered(wctx, &ev, status); err != nil {
			log.Error("record delivery (the event will be sent again, and applied once)", "err", err)
			return time.Time{}
		}
		f.opts.OnResult(ResultDelivered)
		log.Debug("delivered", "status", status, "attempts", ev.Attempts+1)
		return time.Time{}
	case dead:
		if err := f.svc.EventRejected(wctx, &ev, status, string(a.body)); err != nil {
			log.Error("record rejection", "err", err)
			return time.Time{}
		}
		f.opts.OnResult(ResultDead)
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			log.Error("upstream refused this edge's token: fix --upstream-token, then crmedge outbox retry --all-dead", "status", status)
		} else {
			log.Warn("rejected by upstream: dead-lettered (crmedge outbox list --dead)", "status", status)
		}
		return time.Time{}
	}
	delay := f.backoff(ev.Attempts)
	lastErr := ""
	if err != nil {
		lastErr = err.Error()
	} else {
		lastErr = "HTTP " + strconv.Itoa(status) + ": " + snippet(a.body, 200)
		if ra, ok := retryAfter(a.header.Get("Retry-After"), f.c.opts.Now()); ok {
			delay = ra
		}
	}
	next := f.svc.Now().Add(delay)
	if err := f.svc.EventRetry(wctx, &ev, status, lastErr, next); err != nil {
		log.Error("record retry", "err", err)
		return time.Time{}
	}
	f.opts.OnResult(ResultRetry)
	if err != nil {
		log.Debug("retry", "attempts", ev.Attempts+1, "in", delay.Round(time.Millisecond), "err", err)
	} else {
		// Not the answer's body: a central's message may quote a phone.
		log.Debug("retry", "status", status, "attempts", ev.Attempts+1, "in", delay.Round(time.Millisecond))
	}
	return next
}

// backoff is the delay before retrying an event that failed attempts times
// before this failure: BaseBackoff doubled per attempt, capped at MaxBackoff,
// then drawn between half of that and all of it.
func (f *Forwarder) backoff(attempts int) time.Duration {
	return backoffDelay(attempts, f.opts.BaseBackoff, f.c.opts.MaxBackoff, f.opts.Rand())
}

// backoffDelay computes base·2^attempts capped at maxDelay, scaled into
// [d/2, d] by r in [0, 1).
func backoffDelay(attempts int, base, maxDelay time.Duration, r float64) time.Duration {
	d := maxDelay
	if attempts < 30 {
		if b := base << attempts; b > 0 && b < maxDelay {
			d = b
		}
	}
	return d/2 + time.Duration(r*float64(d/2))
}

// maxRetryAfter bounds what a Retry-After may ask for.
const maxRetryAfter = time.Hour

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	return min(max(d, 0), maxRetryAfter), true
}

// snippet is the start of an answer body, for the outbox's last_error.
func snippet(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
	}
	return strings.TrimSpace(string(b))
}

// redactURL drops credentials from a URL for the log.
func redactURL(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "…" + u[i:]
		}
	}
	return u
}
