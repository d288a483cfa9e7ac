package fakecrm

import (
	"encoding/json"
	"net/http"
	"time"
)

// Outcome says what became of a received request.
type Outcome string

const (
	// OutcomeServed: a response with Request.Status was written (it may be a
	// replay from the idempotency store, an injected failure or a rejection).
	OutcomeServed Outcome = "served"
	// OutcomeResetBefore: the connection was closed before anything was
	// processed (ResetBeforeNext, SetDown).
	OutcomeResetBefore Outcome = "reset-before"
	// OutcomeResetAfter: the request was processed (and applied, if Status is
	// 2xx) but the connection was closed instead of answering: the lost ack.
	OutcomeResetAfter Outcome = "reset-after"
	// OutcomeBlackHole: the connection was held open and never answered.
	OutcomeBlackHole Outcome = "blackhole"
	// OutcomeCanceled: the client went away (or the fake was closed) while the
	// request waited out the injected latency; nothing was processed.
	OutcomeCanceled Outcome = "canceled"
)

// Request is one dialect request as the fake received it. Its JSON form (used
// by GET /_fake/received) carries Body as a JSON string, and decodes back.
type Request struct {
	Time           time.Time `json:"time"` // when it arrived
	Method         string    `json:"method"`
	Path           string    `json:"path"`
	RawQuery       string    `json:"raw_query"`
	IdempotencyKey string    `json:"idempotency_key"`
	EdgeID         string    `json:"edge_id"`
	Body           []byte    `json:"-"`
	Status         int       `json:"status"` // computed status; 0 when none was (reset-before, blackhole, canceled)
	Outcome        Outcome   `json:"outcome"`
	Applied        bool      `json:"applied"`   // this request changed the central's state
	Duplicate      bool      `json:"duplicate"` // answered from the idempotency store
}

// requestJSON is Request on the wire; the embedded type has no methods, so
// encoding it does not recurse.
type requestJSON struct {
	plainRequest
	Body string `json:"body"`
}

type plainRequest Request

// MarshalJSON encodes the body as a string rather than base64.
func (r Request) MarshalJSON() ([]byte, error) {
	return json.Marshal(requestJSON{plainRequest(r), string(r.Body)})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (r *Request) UnmarshalJSON(b []byte) error {
	var w requestJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Request(w.plainRequest)
	r.Body = []byte(w.Body)
	return nil
}

// Stats counts requests; Duplicates are those answered from the idempotency store.
type Stats struct {
	Received   int `json:"received"`
	Applied    int `json:"applied"`
	Duplicates int `json:"duplicates"`
}

// response is a complete answer, kept byte for byte so an idempotent replay
// is identical to the first answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// recorder holds the request log and the idempotency store. Guarded by CRM.mu.
type recorder struct {
	received []Request
	// answers maps an Idempotency-Key to the answer of the request that
	// applied it. Only 2xx writes are kept: a failed or rejected attempt
	// leaves the key free, so a retry (say, a dead letter retried after the
	// catalog was fixed) is evaluated afresh.
	answers map[string]response
	applied map[string]int // Idempotency-Key -> number of times applied (0 or 1)
}

func newRecorder() recorder {
	return recorder{answers: map[string]response{}, applied: map[string]int{}}
}

func (rc *recorder) add(r Request) {
	rc.received = append(rc.received, r)
	if r.Applied && r.IdempotencyKey != "" {
		rc.applied[r.IdempotencyKey]++
	}
}

// Received returns every dialect request received so far, in the order their
// outcome was decided (for applied requests: the order they were applied).
func (c *CRM) Received() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cloneRequests(c.rec.received, func(Request) bool { return true })
}

// Applied returns the requests that changed the central's state, in the order
// they were applied: first-time (by Idempotency-Key) writes answered 2xx,
// including reset-after ones whose answer the client never saw.
func (c *CRM) Applied() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cloneRequests(c.rec.received, func(r Request) bool { return r.Applied })
}

// AppliedCount says how many times the write with this Idempotency-Key was
// applied: 0 or 1 (anything else would be a bug in the fake).
func (c *CRM) AppliedCount(idempotencyKey string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rec.applied[idempotencyKey]
}

// Stats returns the request counters.
func (c *CRM) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	var st Stats
	for _, r := range c.rec.received {
		st.Received++
		if r.Applied {
			st.Applied++
		}
		if r.Duplicate {
			st.Duplicates++
		}
	}
	return st
}

func cloneRequests(rs []Request, keep func(Request) bool) []Request {
	out := []Request{}
	for _, r := range rs {
		if keep(r) {
			r.Body = append([]byte(nil), r.Body...)
			out = append(out, r)
		}
	}
	return out
}
