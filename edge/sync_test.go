package edge_test

// Store and forward seen from the edge's own APIs: read-through, the
// accumulate pass-through, idempotent replays (the hub role), and an edge
// chained to a hub crmedge. The forwarder's own behaviour is tested in
// package upstream.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"crmedge/edge"
	"crmedge/upstream"
	"crmedge/upstream/fakecrm"
)

const seedPhone = "0945350398"

// central starts an in-process fake central CRM.
func central(t *testing.T, opts fakecrm.Options) (*fakecrm.CRM, string) {
	t.Helper()
	if opts.Token == "" {
		opts.Token = "central-token"
	}
	crm, url, err := fakecrm.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { crm.Close() })
	return crm, url
}

// upstreamClient is a client of baseURL with token.
func upstreamClient(t *testing.T, baseURL, token string, timeout time.Duration) *upstream.Client {
	t.Helper()
	c, err := upstream.New(upstream.Options{BaseURL: baseURL, Token: token, EdgeID: "edge-test", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func withUpstream(u edge.Upstream) func(*harnessOptions) {
	return func(o *harnessOptions) { o.upstream = u }
}

// forward runs a forwarder of h's outbox until the test ends.
func forward(t *testing.T, h *harness, c *upstream.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		upstream.NewForwarder(c, h.svc, upstream.ForwarderOptions{PollInterval: 20 * time.Millisecond}).Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func (h *harness) drained() {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := h.svc.Sync(context.Background())
		if err != nil {
			h.t.Fatal(err)
		}
		if st.Pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("outbox not drained: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// received counts the fake's requests of one method and path.
func received(crm *fakecrm.CRM, method, path string) int {
	n := 0
	for _, r := range crm.Received() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

type historyEntry struct {
	Type, Score, Status int
	ID                  string
	Code                string
	Product             *struct{ Code, Name string }
	Contact             struct{ ID string }
}

func history(t *testing.T, h *harness, phone string) []historyEntry {
	t.Helper()
	var out []historyEntry
	if err := json.Unmarshal(h.mustDo(200, "GET", "/history-point?phone="+phone, "", ""), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReadThrough(t *testing.T) {
	t.Parallel()
	crm, url := central(t, fakecrm.Options{})
	remoteID, err := crm.AddMember("pos1", map[string]any{"phone": seedPhone, "name": "Ly Tu Quang Thang", "gender": "1",
		"birthday": "05-30", "year_birthday": "1996", "home_town": "Ha Noi", "email": "phundk59uet@gmail.com"})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"6b0000000000000000000001", "6b0000000000000000000002", "6b0000000000000000000003"}
	err = crm.AddHistory(seedPhone,
		fakecrm.Entry{ID: ids[0], Type: 1, Score: 100, Product: &fakecrm.Product{Code: "TIVI01", Name: "TV"}, Code: "X1", CreatedAt: 1_700_000_000_000},
		fakecrm.Entry{ID: ids[1], Type: 2, Score: 10, Gift: &fakecrm.Gift{Code: "DAUMAY01", Name: "Dau may", Score: 10}, CreatedAt: 1_700_000_001_000},
		fakecrm.Entry{ID: ids[2], Type: 1, Score: 50, Rejected: true, Product: &fakecrm.Product{Code: "TIVI01", Name: "TV"}, Code: "X2", CreatedAt: 1_700_000_002_000})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, withUpstream(upstreamClient(t, url, "central-token", time.Second)))

	b := h.mustDo(200, "GET", "/customers_location?phone="+seedPhone+"&pos_id=pos1", "", "")
	for _, want := range []string{`"_id":"` + remoteID + `"`, `"name":"Ly Tu Quang Thang"`, `"gender":"1"`, `"birthday":"05-30"`,
		`"year_birthday":"1996"`, `"home_town":"Ha Noi"`, `"email":"phundk59uet@gmail.com"`, `"phone":"0945350398"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("read-through member lacks %s: %s", want, b)
		}
	}
	if n := h.outboxLen(); n != 0 {
		t.Errorf("read-through queued %d events; a cached member is not forwarded", n)
	}
	// The central history came along, once, with the central's ids and statuses.
	hist := history(t, h, seedPhone)
	got := map[string]int{}
	for _, e := range hist {
		got[e.ID] = e.Status
	}
	if len(hist) != 3 || got[ids[0]] != 1 || got[ids[1]] != 1 || got[ids[2]] != 0 {
		t.Errorf("imported history: %+v", hist)
	}
	if bal, pending := balanceOf(t, h, "phone="+seedPhone); bal != 90 || pending != 0 {
		t.Errorf("balance from the imported history: %d (pending %d), want 90", bal, pending)
	}
	// Found locally from now on: no second question to the central.
	h.mustDo(200, "GET", "/customers_location?phone=%2B84945350398&pos_id=pos1", "", "")
	if n := received(crm, "GET", "/customers_location"); n != 1 {
		t.Errorf("the central was asked %d times for one member", n)
	}
	if n := received(crm, "GET", "/history-point"); n != 1 {
		t.Errorf("the history was fetched %d times, want once", n)
	}
	// Not a member at pos2, here or there: 404 after asking with that pos_id.
	h.mustDo(404, "GET", "/customers_location?phone="+seedPhone+"&pos_id=pos2", "", "")
	if rs := crm.Received(); !strings.Contains(rs[len(rs)-1].RawQuery, "pos_id=pos2") {
		t.Errorf("the central was not asked with pos_id=pos2: %+v", rs[len(rs)-1])
	}
	// A member at pos3 centrally joins pos3 here, and its history is not
	// imported a second time.
	if _, err := crm.AddMember("pos3", map[string]any{"phone": seedPhone}); err != nil {
		t.Fatal(err)
	}
	h.mustDo(200, "GET", "/customers_location?phone="+seedPhone+"&pos_id=pos3", "", "")
	h.mustDo(200, "GET", "/customers_location?phone="+seedPhone+"&pos_id=pos3", "", "")
	if n := received(crm, "GET", "/customers_location"); n != 3 {
		t.Errorf("asked the central %d times, want 3 (pos1, pos2, pos3 once)", n)
	}
	if hist := history(t, h, seedPhone); len(hist) != 3 {
		t.Errorf("history after a second read-through: %d entries, want 3", len(hist))
	}
	// Unknown at the central too.
	h.mustDo(404, "GET", "/customers_location?phone=0912000001&pos_id=pos1", "", "")
}

func TestReadThroughOffline(t *testing.T) {
	t.Parallel()
	crm, url := central(t, fakecrm.Options{AcceptUnknownCodes: true})
	crm.SetDown(true)
	h := newHarness(t, withUpstream(upstreamClient(t, url, "central-token", 300*time.Millisecond)))
	h.mustDo(404, "GET", "/customers_location?phone="+seedPhone+"&pos_id=pos1", "", "")
	st := decode(t, h.mustDo(200, "GET", "/admin/v1/sync", "", ""))
	if st["online"] != false || st["last_error"] == nil {
		t.Errorf("sync after a failed read-through: %v", st)
	}
	if le, _ := st["last_error"].(string); strings.Contains(le, "945350398") {
		t.Errorf("last_error shows the phone: %q", le)
	}
	before := len(crm.Received())
	// Known to be offline: answered from local data at once, nothing asked.
	h.mustDo(404, "GET", "/customers_location?phone=0912000001&pos_id=pos1", "", "")
	b := h.mustDo(404, "POST", "/accumulate", "", `{"code":"NOWHERE","data":{"phones":[{"value":"0912000001"}]}}`)
	if !strings.Contains(string(b), "offline") || !strings.Contains(string(b), `"error":"code_not_found"`) {
		t.Errorf("unknown code while offline: %s", b)
	}
	if after := len(crm.Received()); after != before {
		t.Errorf("the central was tried %d times while known to be offline", after-before)
	}
	// A central that accepts the connection and never answers costs one
	// timeout, not a hung till.
	h2 := newHarness(t, withUpstream(upstreamClient(t, url, "central-token", 300*time.Millisecond)))
	crm.SetDown(false)
	crm.BlackHoleNext(1)
	start := time.Now()
	h2.mustDo(404, "GET", "/customers_location?phone="+seedPhone+"&pos_id=pos1", "", "")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a black-holed read-through took %s with a 300 ms timeout", d)
	}
}

func TestAccumulatePassThrough(t *testing.T) {
	t.Parallel()
	crm, url := central(t, fakecrm.Options{})
	crm.AddProduct(fakecrm.Product{Code: "P9", Name: "Nine", Score: 90})
	crm.AddCode(fakecrm.AccumulationCode{Code: "REMOTE1", ProductCode: "P9", Serial: "sr1"})
	crm.AddCode(fakecrm.AccumulationCode{Code: "REMOTE2", ProductCode: "P9", Serial: "sr2"})
	h := newHarness(t, withUpstream(upstreamClient(t, url, "central-token", time.Second)))

	body := `{"code":"REMOTE1","data":{"name":"An","phones":[{"type":"Work","value":"` + seedPhone + `"}],"emails":[]}}`
	res := decode(t, h.mustDo(200, "POST", "/accumulate", "", body))
	if res["success"] != float64(1) || res["score"] != float64(90) || res["balance"] != float64(90) {
		t.Errorf("pass-through answer: %v", res)
	}
	hist := history(t, h, seedPhone)
	if len(hist) != 1 || hist[0].Code != "REMOTE1" || hist[0].Score != 90 || hist[0].Status != 1 ||
		hist[0].Product == nil || hist[0].Product.Name != "Nine" || hist[0].ID != res["id"] {
		t.Errorf("history after pass-through: %+v (answer %v)", hist, res)
	}
	if n := h.outboxLen(); n != 0 {
		t.Errorf("a pass-through queued %d events; the call itself went upstream", n)
	}
	applied := crm.Applied()
	if len(applied) != 1 || applied[0].IdempotencyKey != res["id"] || !strings.Contains(string(applied[0].Body), `"_id":"`+hist[0].Contact.ID+`"`) {
		t.Errorf("the central got %+v; want one accumulate keyed by the entry id, carrying the customer's _id %s", applied, hist[0].Contact.ID)
	}
	// The code is spent centrally: the same answer as a local used code.
	b := h.mustDo(409, "POST", "/accumulate", "", body)
	if !strings.Contains(string(b), `"error":"code_used"`) {
		t.Errorf("used remote code: %s", b)
	}
	b = h.mustDo(404, "POST", "/accumulate", "", strings.Replace(body, "REMOTE1", "NOWHERE", 1))
	if !strings.Contains(string(b), `"success":0`) || strings.Contains(string(b), "offline") {
		t.Errorf("code unknown centrally too: %s", b)
	}
	// A code the central refuses leaves no customer here it never heard of.
	h.mustDo(404, "POST", "/accumulate", "", `{"code":"NOWHERE","data":{"phones":[{"value":"0912000009"}]}}`)
	if st, b := h.do("GET", "/customers_location?phone=0912000009", "", ""); st != 404 {
		t.Errorf("a refused pass-through created a customer: %d %s", st, b)
	}
	// Re-imported on the next pass-through: new central entries come in,
	// nothing already here is imported twice.
	if err := crm.AddHistory(seedPhone, fakecrm.Entry{ID: "6b00000000000000000000aa", Type: 1, Score: 5,
		Product: &fakecrm.Product{Code: "P9", Name: "Nine"}, Code: "ELSEWHERE"}); err != nil {
		t.Fatal(err)
	}
	h.mustDo(200, "POST", "/accumulate", "", strings.Replace(body, "REMOTE1", "REMOTE2", 1))
	hist = history(t, h, seedPhone)
	seen := map[string]bool{}
	for _, e := range hist {
		if seen[e.ID] {
			t.Errorf("entry %s imported twice", e.ID)
		}
		seen[e.ID] = true
	}
	if len(hist) != 3 || !seen["6b00000000000000000000aa"] {
		t.Errorf("history after a second pass-through: %+v", hist)
	}
	if bal, _ := balanceOf(t, h, "phone="+seedPhone); bal != 185 {
		t.Errorf("balance %d, want 185", bal)
	}
}

// doH is h.do as the admin that also returns the answer's headers.
func doH(t *testing.T, h *harness, method, url, body string, headers ...string) (int, string, http.Header) {
	t.Helper()
	resp, b := rawDo(t, h, method, url, "admin", body, headers...)
	return resp.StatusCode, string(b), resp.Header
}

func loadCatalog(t *testing.T, h *harness) {
	t.Helper()
	h.mustDo(200, "PUT", "/admin/v1/products", "", `[{"code":"TIVI01","name":"TV","score":100}]`)
	h.mustDo(200, "PUT", "/admin/v1/codes", "", `[{"code":"C1","product_code":"TIVI01","serial":"s1"},{"code":"C2","product_code":"TIVI01","serial":"s2"}]`)
	h.mustDo(200, "PUT", "/admin/v1/gifts", "", `[{"code":"DAUMAY01","name":"Dau may","score":10}]`)
}

func TestIdempotencyKeyReplay(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	loadCatalog(t, h)
	create := `{"phone":"` + seedPhone + `","name":"A"}`
	st1, b1, hd1 := doH(t, h, "POST", "/customers_location?pos_id=pos1", create, "Idempotency-Key", "k-member")
	st2, b2, hd2 := doH(t, h, "POST", "/customers_location?pos_id=pos1", `{"phone":"0912000001"}`, "Idempotency-Key", "k-member")
	if st1 != 200 || st2 != 200 || b1 != b2 || hd1.Get("Idempotent-Replayed") != "" || hd2.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replayed create: %d %s / %d %s (replayed %q)", st1, b1, st2, b2, hd2.Get("Idempotent-Replayed"))
	}
	h.mustDo(404, "GET", "/customers_location?phone=0912000001&pos_id=pos1", "", "") // the replay applied nothing
	h.mustDo(409, "POST", "/customers_location?pos_id=pos1", "", create)             // the first one was applied

	acc := `{"code":"C1","data":{"phones":[{"value":"` + seedPhone + `"}]}}`
	for range 2 {
		if st, b, _ := doH(t, h, "POST", "/accumulate", acc, "Idempotency-Key", "k-acc"); st != 200 {
			t.Fatalf("accumulate with a key: %d %s", st, b)
		}
	}
	if bal, _ := balanceOf(t, h, "phone="+seedPhone); bal != 100 {
		t.Errorf("balance %d after an accumulate and its replay, want 100", bal)
	}
	// A refused write leaves its key free: the same key works once fixed.
	acc2 := `{"code":"C9","data":{"phones":[{"value":"` + seedPhone + `"}]}}`
	if st, _, _ := doH(t, h, "POST", "/accumulate", acc2, "Idempotency-Key", "k-later"); st != 404 {
		t.Fatalf("unknown code: %d", st)
	}
	h.mustDo(200, "PUT", "/admin/v1/codes", "", `[{"code":"C9","product_code":"TIVI01"}]`)
	if st, b, hd := doH(t, h, "POST", "/accumulate", acc2, "Idempotency-Key", "k-later"); st != 200 || hd.Get("Idempotent-Replayed") != "" {
		t.Errorf("the key of a refused write must stay free: %d %s", st, b)
	}
	// The same key sent by many at once is applied once.
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Go(func() {
			statuses[i], _, _ = doH(t, h, "POST", "/redeem", `{"code":"DAUMAY01","data":{"phone":"`+seedPhone+`"}}`, "Idempotency-Key", "k-redeem")
		})
	}
	wg.Wait()
	for i, st := range statuses {
		if st != 200 {
			t.Errorf("concurrent replay %d: %d", i, st)
		}
	}
	if bal, _ := balanceOf(t, h, "phone="+seedPhone); bal != 190 {
		t.Errorf("balance %d after 8 concurrent redeems with one key, want 190", bal)
	}
	if st, _, _ := doH(t, h, "POST", "/accumulate", acc, "Idempotency-Key", strings.Repeat("k", 129)); st != 400 {
		t.Errorf("an over-long key: %d, want 400", st)
	}
}

// TestEdgeChainedToHub runs an edge whose upstream is another crmedge: what
// is written at the edge is at the hub, with the edge's ids.
func TestEdgeChainedToHub(t *testing.T) {
	t.Parallel()
	hub := newHarness(t)
	loadCatalog(t, hub)
	client := upstreamClient(t, hub.srv.URL, hub.tokens["plain"], time.Second)
	e := newHarness(t, withUpstream(client))
	loadCatalog(t, e)
	forward(t, e, client)

	created := decode(t, e.mustDo(200, "POST", "/customers_location?pos_id=pos1", "", seedMember))
	id := created["data"].(map[string]any)["_id"].(string)
	e.mustDo(200, "PUT", "/customers_location?pos_id=pos1", "", `{"phone":"`+seedPhone+`","twitter":"https://twitter.com/x"}`)
	acc := decode(t, e.mustDo(200, "POST", "/accumulate", "", `{"code":"C1","data":{"phones":[{"value":"`+seedPhone+`"}]}}`))
	red := decode(t, e.mustDo(200, "POST", "/redeem", "", `{"code":"DAUMAY01","data":{"phone":"`+seedPhone+`"}}`))
	e.mustDo(200, "POST", "/1.0/customer/update", "", `{"_id":"`+id+`","phone":"`+seedPhone+`","company":"CRMX"}`)
	e.mustDo(200, "POST", "/api/crm/type/create", "", `{"vbot_id":"v1","project_code":"p1","type_name":"Gold","type_no":"GOLD"}`)
	e.drained()
	if st, _ := e.svc.Sync(context.Background()); st.Dead != 0 || !st.Online {
		t.Fatalf("edge sync after draining to the hub: %+v", st)
	}

	m := hub.mustDo(200, "GET", "/customers_location?phone="+seedPhone+"&pos_id=pos1", "", "")
	for _, want := range []string{`"_id":"` + id + `"`, `"twitter":"https://twitter.com/x"`, `"name":"Ly Tu Quang Thang"`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("hub member lacks %s: %s", want, m)
		}
	}
	if p := hub.mustDo(200, "GET", "/1.0/customer/"+id, "", ""); !strings.Contains(string(p), `"company":"CRMX"`) {
		t.Errorf("hub profile: %s", p)
	}
	ids := map[string]bool{}
	for _, en := range history(t, hub, seedPhone) {
		ids[en.ID] = true
	}
	if len(ids) != 2 || !ids[acc["id"].(string)] || !ids[red["id"].(string)] {
		t.Errorf("hub ledger ids %v, want the edge's %v and %v", ids, acc["id"], red["id"])
	}
	if bal, _ := balanceOf(t, hub, "phone="+seedPhone); bal != 90 {
		t.Errorf("hub balance %d, want 90", bal)
	}
	if l := hub.mustDo(200, "GET", "/api/crm/type/list?vbot_id=v1&project_code=p1", "", ""); !strings.Contains(string(l), "GOLD") {
		t.Errorf("hub types: %s", l)
	}
	// An event sent again (a lost answer) is answered from the stored result.
	evs, _ := e.svc.OutboxEvents(context.Background(), edge.OutboxFilter{State: -1, Limit: 100})
	for _, ev := range evs {
		if ev.Kind != edge.KindAccumulate {
			continue
		}
		st, b, hd := doH(t, hub, ev.Call.Method, ev.Call.Path, string(ev.Call.Body), "Idempotency-Key", ev.ID)
		if st != 200 || hd.Get("Idempotent-Replayed") != "true" || !strings.Contains(b, fmt.Sprint(acc["id"])) {
			t.Errorf("resent accumulate: %d %s %v", st, b, hd)
		}
	}
	if bal, _ := balanceOf(t, hub, "phone="+seedPhone); bal != 90 {
		t.Errorf("hub balance %d after a resent accumulate, want 90", bal)
	}
}
