package fakecrm

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"time"
)

// faults is the injected misbehaviour. Guarded by CRM.mu.
//
// The counted faults ("the next n requests") form one queue per kind, and a
// request consumes at most one of them, picked in this order: reset-before,
// black hole, fail, rate limit, reset after. So FailNext(1, 503) plus
// ResetAfterNext(1) means the next request gets 503 and the one after it is
// reset after being applied.
type faults struct {
	latency         time.Duration
	down            bool
	resetBeforeNext int
	blackholeNext   int
	failNext        int
	failStatus      int
	rateLimitNext   int
	retryAfter      time.Duration
	resetAfterNext  int
	rejectCodes     map[string]int // body code of /accumulate and /redeem -> status
	rejectPaths     map[string]int // "/path" or "METHOD /path" -> status
}

type faultKind int

const (
	noFault faultKind = iota
	faultResetBefore
	faultBlackHole
	faultFail
	faultRateLimit
	faultResetAfter
)

// injected is the counted fault a request drew on arrival, with the settings
// it needs captured then, so a later change of settings does not alter it.
type injected struct {
	kind       faultKind
	status     int // for faultFail
	retryAfter int // whole seconds, for faultRateLimit
}

// take decides the counted fault for the request arriving now, consuming it.
func (f *faults) take() injected {
	switch {
	case f.down:
		return injected{kind: faultResetBefore}
	case f.resetBeforeNext > 0:
		f.resetBeforeNext--
		return injected{kind: faultResetBefore}
	case f.blackholeNext > 0:
		f.blackholeNext--
		return injected{kind: faultBlackHole}
	case f.failNext > 0:
		f.failNext--
		status := f.failStatus
		if status < 400 {
			status = http.StatusInternalServerError
		}
		return injected{kind: faultFail, status: status}
	case f.rateLimitNext > 0:
		f.rateLimitNext--
		// Retry-After is whole seconds: round up, and never 0, which a client
		// would take as "retry at once".
		secs := int((f.retryAfter + time.Second - 1) / time.Second)
		return injected{kind: faultRateLimit, retryAfter: max(secs, 1)}
	case f.resetAfterNext > 0:
		f.resetAfterNext--
		return injected{kind: faultResetAfter}
	}
	return injected{kind: noFault}
}

// rejection returns the permanent error configured for this request, if any:
// a rejected path (with or without method) or, for /accumulate and /redeem,
// a rejected body code.
func (f *faults) rejection(method, path string, body []byte) *apiError {
	status, ok := f.rejectPaths[method+" "+path]
	if !ok {
		status, ok = f.rejectPaths[path]
	}
	if !ok && (path == "/accumulate" || path == "/redeem") && len(f.rejectCodes) > 0 {
		var b struct {
			Code string `json:"code"`
		}
		// A malformed body is left for the handler to answer 400.
		if json.Unmarshal(body, &b) == nil {
			status, ok = f.rejectCodes[b.Code]
		}
	}
	if !ok {
		return nil
	}
	return errorf(status, "rejected", "rejected by central")
}

// SetLatency makes every dialect request wait d before it is processed. A
// request whose client gives up meanwhile is not processed (OutcomeCanceled).
func (c *CRM) SetLatency(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults.latency = d
}

// FailNext makes the next n dialect requests fail with status (e.g. 500, 503)
// and the dialect's error body, without applying them.
func (c *CRM) FailNext(n int, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults.failNext, c.faults.failStatus = n, status
}

// RateLimitNext answers the next n dialect requests 429 with a Retry-After
// header of retryAfter in whole seconds (rounded up, at least 1).
func (c *CRM) RateLimitNext(n int, retryAfter time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults.rateLimitNext, c.faults.retryAfter = n, retryAfter
}

// RejectCode makes every /accumulate and /redeem whose body code is code fail
// with status (a permanent 4xx such as 400 or 422) and
// {"success":0,"message":"rejected by central","error":"rejected"}, until
// Reset. Status 0 removes the rule.
func (c *CRM) RejectCode(code string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	setRule(&c.faults.rejectCodes, code, status)
}

// RejectPath makes every request to path fail with status in its dialect's
// envelope, until Reset. path is "/customers_location" (any method) or
// "POST /customers_location" (that method only). Status 0 removes the rule.
func (c *CRM) RejectPath(path string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	setRule(&c.faults.rejectPaths, normalizeRulePath(path), status)
}

// normalizeRulePath upper-cases the method of "method /path".
func normalizeRulePath(p string) string {
	if method, rest, ok := strings.Cut(p, " "); ok {
		return strings.ToUpper(method) + " " + strings.TrimSpace(rest)
	}
	return p
}

func setRule(m *map[string]int, key string, status int) {
	if status == 0 {
		delete(*m, key)
		return
	}
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[key] = status
}

// ResetBeforeNext closes the connection of the next n dialect requests
// without processing them: the client sees a reset or EOF.
func (c *CRM) ResetBeforeNext(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults.resetBeforeNext = n
}

// ResetAfterNext processes (and applies) the next n dialect requests fully,
// storing their idempotent answer, then closes the connection instead of
// answering: the lost-ack case.
func (c *CRM) ResetAfterNext(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults.resetAfterNext = n
}

// BlackHoleNext holds the connections of the next n dialect requests open
// without answering, until the client goes away or the CRM is closed.
func (c *CRM) BlackHoleNext(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults.blackholeNext = n
}

// SetDown makes every dialect request a reset-before while down is true: the
// central is unreachable at the application level.
func (c *CRM) SetDown(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults.down = down
}

// Reset clears every fault (latency, counters, down, rejections). Data and
// the request log are kept.
func (c *CRM) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = faults{}
}

// faultSettings is the JSON of POST /_fake/faults (and GET's answer). Absent
// fields leave their setting unchanged; counters are set, not added to.
// reject_codes and reject_paths add rules; a status of 0 removes one.
type faultSettings struct {
	LatencyMS       *int64         `json:"latency_ms,omitempty"`
	FailNext        *int           `json:"fail_next,omitempty"`
	FailStatus      *int           `json:"fail_status,omitempty"`
	RateLimitNext   *int           `json:"rate_limit_next,omitempty"`
	RetryAfterS     *float64       `json:"retry_after_s,omitempty"`
	ResetBeforeNext *int           `json:"reset_before_next,omitempty"`
	ResetAfterNext  *int           `json:"reset_after_next,omitempty"`
	BlackholeNext   *int           `json:"blackhole_next,omitempty"`
	Down            *bool          `json:"down,omitempty"`
	RejectCodes     map[string]int `json:"reject_codes,omitempty"`
	RejectPaths     map[string]int `json:"reject_paths,omitempty"`
}

// apply merges s into f.
func (f *faults) apply(s faultSettings) {
	if s.LatencyMS != nil {
		f.latency = time.Duration(*s.LatencyMS) * time.Millisecond
	}
	if s.FailNext != nil {
		f.failNext = *s.FailNext
	}
	if s.FailStatus != nil {
		f.failStatus = *s.FailStatus
	}
	if s.RateLimitNext != nil {
		f.rateLimitNext = *s.RateLimitNext
	}
	if s.RetryAfterS != nil {
		f.retryAfter = time.Duration(*s.RetryAfterS * float64(time.Second))
	}
	if s.ResetBeforeNext != nil {
		f.resetBeforeNext = *s.ResetBeforeNext
	}
	if s.ResetAfterNext != nil {
		f.resetAfterNext = *s.ResetAfterNext
	}
	if s.BlackholeNext != nil {
		f.blackholeNext = *s.BlackholeNext
	}
	if s.Down != nil {
		f.down = *s.Down
	}
	for code, status := range s.RejectCodes {
		setRule(&f.rejectCodes, code, status)
	}
	for path, status := range s.RejectPaths {
		setRule(&f.rejectPaths, normalizeRulePath(path), status)
	}
}

// settings reports f in the JSON shape of POST /_fake/faults, every field
// present. It points into a copy, so the result may be encoded after CRM.mu
// is released.
func (f *faults) settings() faultSettings {
	cp := *f
	latency := cp.latency.Milliseconds()
	retry := cp.retryAfter.Seconds()
	return faultSettings{
		LatencyMS: &latency, FailNext: &cp.failNext, FailStatus: &cp.failStatus,
		RateLimitNext: &cp.rateLimitNext, RetryAfterS: &retry,
		ResetBeforeNext: &cp.resetBeforeNext, ResetAfterNext: &cp.resetAfterNext,
		BlackholeNext: &cp.blackholeNext, Down: &cp.down,
		RejectCodes: maps.Clone(cp.rejectCodes), RejectPaths: maps.Clone(cp.rejectPaths),
	}
}
