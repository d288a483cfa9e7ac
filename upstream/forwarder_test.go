package upstream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"crmedge/edge"
	"crmedge/upstream"
)

// queueMembers writes, for each of n customers, a create and `updates` name
// changes through the member dialect: n streams of 1+updates events.
func queueMembers(r *rig, n, updates int) {
	r.t.Helper()
	for i := range n {
		r.mustDo(200, "POST", "/customers_location?pos_id=shop1", memberBody(phone(i), "v0"))
	}
	for u := 1; u <= updates; u++ {
		for i := range n {
			r.mustDo(200, "PUT", "/customers_location?pos_id=shop1", memberBody(phone(i), fmt.Sprintf("v%d", u)))
		}
	}
}

// centralMember reads a member back from the fake central.
func centralMember(t testing.TB, r *rig, phone string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", r.crmSrv.URL+"/customers_location?pos_id=shop1&phone="+phone, nil)
	req.Header.Set("Authorization", "Bearer central-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Data map[string]any `json:"data"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &env); err != nil || resp.StatusCode != 200 {
		t.Fatalf("central GET member %s: %d %s", phone, resp.StatusCode, b)
	}
	return env.Data
}

func TestForwarderOrderPerStreamParallelAcross(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *rigOptions) { o.noForwarder = true; o.concurrency = 4 })
	r.crm.SetLatency(20 * time.Millisecond)
	queueMembers(r, 6, 3)
	evs := r.events()
	if len(evs) != 24 {
		t.Fatalf("outbox holds %d events, want 24", len(evs))
	}
	r.start()
	r.drained(20 * time.Second)

	// Each event applied exactly once, and no other write.
	for _, ev := range evs {
		if n := r.crm.AppliedCount(ev.ID); n != 1 {
			t.Errorf("event %s (%s) applied %d times", ev.ID, ev.Kind, n)
		}
	}
	applied := appliedKeys(r.crm)
	if len(applied) != len(evs) {
		t.Errorf("the central applied %d writes for %d events", len(applied), len(evs))
	}
	// One stream's events in commit order.
	pos := map[string]int{}
	for i, k := range applied {
		pos[k] = i
	}
	byStream := map[string][]edge.Event{}
	for _, ev := range evs {
		byStream[ev.Stream] = append(byStream[ev.Stream], ev)
	}
	for stream, list := range byStream {
		for i := 1; i < len(list); i++ {
			if pos[list[i-1].ID] > pos[list[i].ID] {
				t.Errorf("stream %s: event %d applied before event %d", stream, list[i].Seq, list[i-1].Seq)
			}
		}
	}
	maxIn, overlap := r.watch.stats()
	if overlap {
		t.Errorf("two events of one customer were in flight at once")
	}
	if maxIn < 2 || maxIn > 4 {
		t.Errorf("at most %d requests were in flight; want parallelism up to the concurrency of 4", maxIn)
	}
	// The last update won at the central, and the edge's _id was kept.
	for i := range 6 {
		m := centralMember(t, r, phone(i))
		if m["name"] != "v3" {
			t.Errorf("customer %d: central name %v, want v3", i, m["name"])
		}
		if id, _ := m["_id"].(string); byStream[id] == nil {
			t.Errorf("customer %d: central _id %v is not the edge's", i, m["_id"])
		}
	}
	st := r.sync()
	if !st.Online || st.LastSuccess.IsZero() || st.LastError != "" || st.Dead != 0 {
		t.Errorf("sync after drain: %+v", st)
	}
	if got := r.result(upstream.ResultDelivered); got != 24 {
		t.Errorf("OnResult counted %d deliveries, want 24", got)
	}
	for _, rq := range r.crm.Applied() {
		if rq.EdgeID != "edge-under-test" {
			t.Errorf("request without X-Edge-Id: %+v", rq)
			break
		}
	}
}

func TestForwarderStuckStreamDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *rigOptions) { o.noForwarder = true; o.concurrency = 2 })
	stuck := phone(1)
	r.watch.setFail(func(_ *http.Request, body []byte) int {
		if phoneOf(body) == stuck {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	queueMembers(r, 6, 1) // 6 streams of 2; stream 1 answers 503 for now
	r.start()
	waitFor(t, 20*time.Second, "every other customer delivered", func() bool { return r.sync().Pending == 2 })
	var head, second *edge.Event
	for _, ev := range r.events() {
		if ev.State != edge.EventPending {
			continue
		}
		if head == nil {
			head = &ev
		} else {
			second = &ev
		}
	}
	if head == nil || second == nil || head.Stream != second.Stream {
		t.Fatalf("pending: %+v %+v", head, second)
	}
	waitFor(t, 10*time.Second, "the stuck head retried", func() bool {
		ev, _ := r.svc.OutboxEvents(context.Background(), edge.OutboxFilter{State: edge.EventPending, Limit: 1})
		return len(ev) == 1 && ev[0].Attempts >= 3
	})
	for _, rq := range r.crm.Received() {
		if rq.IdempotencyKey == second.ID {
			t.Fatalf("the second event of a stuck customer was sent before its head")
		}
	}
	evs, _ := r.svc.OutboxEvents(context.Background(), edge.OutboxFilter{State: edge.EventPending, Limit: 10})
	if evs[0].LastStatus != 503 || !strings.Contains(evs[0].LastError, "HTTP 503") {
		t.Errorf("stuck head: last_status %d last_error %q", evs[0].LastStatus, evs[0].LastError)
	}
	r.watch.setFail(nil)
	r.drained(20 * time.Second)
	applied := appliedKeys(r.crm)
	if i, j := slices.Index(applied, head.ID), slices.Index(applied, second.ID); i < 0 || j < i {
		t.Errorf("after the central recovered: head at %d, second at %d", i, j)
	}
}

func TestForwarderBackoffDoubles(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *rigOptions) {
		o.noForwarder = true
		o.baseBackoff = 40 * time.Millisecond
		o.maxBackoff = 160 * time.Millisecond
	})
	var mu sync.Mutex
	var arrivals []time.Time
	r.watch.setFail(func(rq *http.Request, _ []byte) int {
		if rq.URL.Path != "/customers_location" {
			return 0
		}
		mu.Lock()
		defer mu.Unlock()
		arrivals = append(arrivals, time.Now())
		if len(arrivals) <= 5 {
			return http.StatusBadGateway
		}
		return 0
	})
	r.mustDo(200, "POST", "/customers_location?pos_id=shop1", memberBody(phone(1), "A"))
	r.start()
	r.drained(20 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(arrivals) != 6 {
		t.Fatalf("%d attempts, want 6", len(arrivals))
	}
	// Delay after failure k: 40 ms·2^k capped at 160 ms, drawn in [d/2, d].
	for k, d := range []time.Duration{40, 80, 160, 160, 160} {
		d *= time.Millisecond
		gap := arrivals[k+1].Sub(arrivals[k])
		if gap < d/2-2*time.Millisecond {
			t.Errorf("retry %d came %s after the failure, before its backoff of at least %s", k+1, gap, d/2)
		}
		if gap > d+time.Second {
			t.Errorf("retry %d came %s after the failure, far over its backoff of at most %s", k+1, gap, d)
		}
	}
	if got := r.result(upstream.ResultRetry); got != 5 {
		t.Errorf("OnResult counted %d retries, want 5", got)
	}
}

func TestForwarderHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *rigOptions) { o.noForwarder = true })
	r.crm.RateLimitNext(1, time.Second)
	r.mustDo(200, "POST", "/customers_location?pos_id=shop1", memberBody(phone(1), "A"))
	r.start()
	r.drained(20 * time.Second)
	rec := r.crm.Received()
	if len(rec) != 2 || rec[0].Status != 429 || !rec[1].Applied {
		t.Fatalf("received %+v", rec)
	}
	if gap := rec[1].Time.Sub(rec[0].Time); gap < 990*time.Millisecond {
		t.Errorf("retried %s after a 429 with Retry-After: 1", gap)
	}
}

// catalog loads one product (100 points), three codes and one gift (10
// points) at the edge.
func catalog(r *rig) {
	r.t.Helper()
	r.mustDo(200, "PUT", "/admin/v1/products", `[{"code":"TIVI01","name":"TV","score":100}]`)
	r.mustDo(200, "PUT", "/admin/v1/codes", `[{"code":"C1","product_code":"TIVI01","serial":"s1"},
		{"code":"C2","product_code":"TIVI01","serial":"s2"},{"code":"C3","product_code":"TIVI01","serial":"s3"}]`)
	r.mustDo(200, "PUT", "/admin/v1/gifts", `[{"code":"DAUMAY01","name":"Dau may","score":10}]`)
}

func accumulateBody(code, phone string) string {
	return `{"code":"` + code + `","data":{"name":"A","phones":[{"type":"Work","value":"` + phone + `"}],"emails":[]}}`
}

func balance(t testing.TB, r *rig, phone string) (int64, int64) {
	t.Helper()
	var b struct{ Balance, Pending int64 }
	if err := json.Unmarshal(r.mustDo(200, "GET", "/balance?phone="+phone, ""), &b); err != nil {
		t.Fatal(err)
	}
	return b.Balance, b.Pending
}

func TestForwarderDeadLetterCompensatesAndRetries(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *rigOptions) { o.noForwarder = true })
	catalog(r)
	p := phone(7)
	r.crm.RejectCode("C2", 422)
	r.crm.RejectCode("DAUMAY01", 409)
	r.crm.RejectPath("POST /customers_location", 409)
	r.mustDo(200, "POST", "/customers_location?pos_id=shop1", memberBody(phone(8), "M"))
	r.mustDo(200, "POST", "/accumulate", accumulateBody("C1", p))
	r.mustDo(200, "POST", "/accumulate", accumulateBody("C2", p))
	r.mustDo(200, "POST", "/redeem", `{"code":"DAUMAY01","data":{"phone":"`+p+`"}}`)
	if bal, pending := balance(t, r, p); bal != 190 || pending != 200 {
		t.Fatalf("before forwarding: balance %d pending %d, want 190 and 200", bal, pending)
	}
	r.start()
	r.drained(20 * time.Second)

	st := r.mustDo(200, "GET", "/admin/v1/sync", "")
	if !strings.Contains(string(st), `"dead":3`) || !strings.Contains(string(st), `"pending":0`) {
		t.Errorf("sync: %s", st)
	}
	// The rejected accumulate's points go; the rejected redeem's come back.
	if bal, pending := balance(t, r, p); bal != 100 || pending != 0 {
		t.Errorf("after rejections: balance %d pending %d, want 100 and 0", bal, pending)
	}
	var hist []struct {
		Type, Status int
		Code         string
		Gift         *struct{ Code string }
	}
	_ = json.Unmarshal(r.mustDo(200, "GET", "/history-point?phone="+p, ""), &hist)
	statuses := map[string]int{}
	for _, h := range hist {
		key := h.Code
		if h.Gift != nil {
			key = h.Gift.Code
		}
		statuses[key] = h.Status
	}
	if statuses["C1"] != 1 || statuses["C2"] != 0 || statuses["DAUMAY01"] != 0 || len(hist) != 3 {
		t.Errorf("history statuses %v (%d items), want C1 1, C2 0, DAUMAY01 0", statuses, len(hist))
	}
	// Dead letters are listed with the central's answer, never dropped.
	var list struct {
		Events []edge.EventJSON `json:"events"`
	}
	_ = json.Unmarshal(r.mustDo(200, "GET", "/admin/v1/outbox?state=dead", ""), &list)
	if len(list.Events) != 3 {
		t.Fatalf("dead list: %+v", list.Events)
	}
	kinds := map[string]edge.EventJSON{}
	for _, e := range list.Events {
		kinds[e.Kind] = e
		if e.State != "dead" || !strings.Contains(e.LastBody, "rejected by central") || e.DoneAt == nil {
			t.Errorf("dead event %+v", e)
		}
	}
	if kinds["member.create"].LastStatus != 409 || kinds["accumulate"].LastStatus != 422 || kinds["redeem"].LastStatus != 409 {
		t.Errorf("dead letters: %+v", kinds)
	}
	if got := r.result(upstream.ResultDead); got != 3 {
		t.Errorf("OnResult counted %d dead, want 3", got)
	}

	// The central is fixed; the accumulate is retried and its points are back.
	r.crm.RejectCode("C2", 0)
	r.mustDo(400, "POST", "/admin/v1/outbox/retry", `{}`)
	r.mustDo(404, "POST", "/admin/v1/outbox/retry", `{"id":"000000000000000000000000"}`)
	b := r.mustDo(200, "POST", "/admin/v1/outbox/retry", `{"id":"`+kinds["accumulate"].ID+`"}`)
	if !strings.Contains(string(b), `"requeued":1`) {
		t.Errorf("retry one: %s", b)
	}
	r.drained(20 * time.Second)
	if bal, _ := balance(t, r, p); bal != 200 {
		t.Errorf("after the retried accumulate was delivered: balance %d, want 200", bal)
	}
	r.crm.Reset()
	b = r.mustDo(200, "POST", "/admin/v1/outbox/retry", `{"all_dead":true}`)
	if !strings.Contains(string(b), `"requeued":2`) {
		t.Errorf("retry all: %s", b)
	}
	r.drained(20 * time.Second)
	if bal, _ := balance(t, r, p); bal != 190 {
		t.Errorf("after every dead letter was delivered: balance %d, want 190", bal)
	}
	if s := r.sync(); s.Dead != 0 {
		t.Errorf("dead after retrying all: %d", s.Dead)
	}
	for _, ev := range r.events() {
		if n := r.crm.AppliedCount(ev.ID); n != 1 {
			t.Errorf("event %s (%s) applied %d times", ev.ID, ev.Kind, n)
		}
	}
}

func TestForwarderLostAckAndBlackHole(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *rigOptions) { o.forwardTimeout = 300 * time.Millisecond })
	// The central applies the write, and the answer is lost.
	r.crm.ResetAfterNext(1)
	r.mustDo(200, "POST", "/customers_location?pos_id=shop1", memberBody(phone(1), "A"))
	r.drained(20 * time.Second)
	// Black hole: the connection is accepted and never answered.
	r.crm.BlackHoleNext(1)
	r.mustDo(200, "POST", "/customers_location?pos_id=shop1", memberBody(phone(2), "B"))
	r.drained(20 * time.Second)

	evs := r.events()
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	outcomes := map[string][]string{}
	for _, rq := range r.crm.Received() {
		outcomes[rq.IdempotencyKey] = append(outcomes[rq.IdempotencyKey], string(rq.Outcome))
	}
	for i, want := range []string{"reset-after", "blackhole"} {
		ev := evs[i]
		if ev.State != edge.EventDelivered {
			t.Errorf("event %d: state %d", i, ev.State)
		}
		if n := r.crm.AppliedCount(ev.ID); n != 1 {
			t.Errorf("event %d (%s): applied %d times", i, want, n)
		}
		if o := outcomes[ev.ID]; len(o) < 2 || o[0] != want {
			t.Errorf("event %d: outcomes %v, want %s then a retry", i, o, want)
		}
	}
	if len(r.crm.Applied()) != 2 {
		t.Errorf("the central applied %d writes, want 2", len(r.crm.Applied()))
	}
}

func TestForwarderStopsCleanlyMidRequest(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *rigOptions) { o.forwardTimeout = 30 * time.Second })
	r.crm.BlackHoleNext(1)
	r.mustDo(200, "POST", "/customers_location?pos_id=shop1", memberBody(phone(1), "A"))
	waitFor(t, 10*time.Second, "the request is held", func() bool { return len(r.crm.Received()) == 1 })
	start := time.Now()
	r.stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stopping took %s with a request in flight", d)
	}
	ev := r.events()[0]
	if ev.State != edge.EventPending || ev.Attempts != 0 || ev.LastError != "" {
		t.Errorf("an abandoned event must stay as it was: %+v", ev)
	}
}

func TestForwarderIdleAndWakeUp(t *testing.T) {
	t.Parallel()
	cs := &countingStore{}
	r := newRig(t, func(o *rigOptions) {
		o.poll = time.Hour
		o.probe = time.Hour
		o.store = func(s edge.Store) edge.Store { cs.Store = s; return cs }
	})
	time.Sleep(300 * time.Millisecond)
	if n := cs.reads.Load(); n > 2 {
		t.Errorf("an idle forwarder read the outbox %d times in 300 ms", n)
	}
	// No poll for an hour: the committed write itself wakes the forwarder.
	r.mustDo(200, "POST", "/customers_location?pos_id=shop1", memberBody(phone(1), "A"))
	r.drained(5 * time.Second)
}

// TestForwarderOfflineWritesDoNotReadOutbox: while the central is offline, the
// tills' writes do not each make the forwarder read the outbox (which reads
// past every pending event); it reads it at the probe interval and when a
// retry falls due, and sends the backlog once the central is back.
func TestForwarderOfflineWritesDoNotReadOutbox(t *testing.T) {
	t.Parallel()
	cs := &countingStore{}
	r := newRig(t, func(o *rigOptions) {
		o.baseBackoff = 20 * time.Second
		o.maxBackoff = time.Minute
		o.poll = 10 * time.Millisecond
		o.probe = time.Hour
		o.store = func(s edge.Store) edge.Store { cs.Store = s; return cs }
	})
	r.crm.SetDown(true)
	r.mustDo(200, "POST", "/customers_location?pos_id=shop1", memberBody(phone(0), "A"))
	waitFor(t, 10*time.Second, "offline after the first write failed", func() bool {
		evs := r.events()
		return len(evs) == 1 && evs[0].Attempts == 1 && !r.sync().Online
	})
	// Let the forwarder see that it is offline (an event it took while the
	// first was failing may still be tried once).
	time.Sleep(100 * time.Millisecond)
	earlier := map[string]bool{}
	for _, ev := range r.events() {
		earlier[ev.ID] = true
	}
	before := cs.dueReads.Load()
	for i := 1; i <= 30; i++ {
		r.mustDo(200, "POST", "/customers_location?pos_id=shop1", memberBody(phone(i), "A"))
	}
	time.Sleep(200 * time.Millisecond) // 20 poll intervals
	if n := cs.dueReads.Load() - before; n > 2 {
		t.Errorf("offline, 30 writes and 200 ms made the forwarder read the outbox %d times, want at most 2", n)
	}
	for _, ev := range r.events() {
		if !earlier[ev.ID] && ev.Attempts != 0 {
			t.Errorf("offline, event %s was sent %d times before the central came back", ev.ID, ev.Attempts)
		}
	}
}

func TestForwarderOfflineThenBack(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *rigOptions) {
		o.baseBackoff = 20 * time.Second // the backoff alone would hold the backlog for 10 s or more
		o.maxBackoff = time.Minute
		o.probe = 50 * time.Millisecond
	})
	r.crm.SetDown(true)
	for i := range 3 {
		r.mustDo(200, "POST", "/customers_location?pos_id=shop1", memberBody(phone(i), "A"))
	}
	waitFor(t, 10*time.Second, "offline after every head failed", func() bool {
		for _, ev := range r.events() {
			if ev.Attempts == 0 {
				return false
			}
		}
		return !r.sync().Online
	})
	var st edge.SyncJSON
	_ = json.Unmarshal(r.mustDo(200, "GET", "/admin/v1/sync", ""), &st)
	if st.Online || st.Pending != 3 || st.OldestPendingAt == nil || st.LastError == nil || st.LastSuccessAt != nil {
		t.Errorf("offline sync status: %+v", st)
	}
	if st.LastError != nil && strings.Contains(*st.LastError, "912") {
		t.Errorf("last_error shows a phone number: %q", *st.LastError)
	}
	// Probes keep trying while the central is down.
	waitFor(t, 10*time.Second, "a probe", func() bool {
		for _, rq := range r.crm.Received() {
			if rq.Path == "/healthz" {
				return true
			}
		}
		return false
	})
	r.crm.SetDown(false)
	// A probe finds the central back, and the backlog goes without waiting
	// out its 10 s+ backoff.
	r.drained(5 * time.Second)
	_ = json.Unmarshal(r.mustDo(200, "GET", "/admin/v1/sync", ""), &st)
	if !st.Online || st.Pending != 0 || st.OldestPendingAt != nil || st.LastError != nil || st.LastSuccessAt == nil {
		t.Errorf("sync status after recovery: %+v", st)
	}
	for _, ev := range r.events() {
		if r.crm.AppliedCount(ev.ID) != 1 {
			t.Errorf("event %s applied %d times", ev.ID, r.crm.AppliedCount(ev.ID))
		}
	}
}
