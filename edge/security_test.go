package edge_test

// Security at the HTTP edge: admin-only routes, location-scoped tokens,
// the per-token rate limit, security headers, request ids and what the
// request log never holds, and /metrics.

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"crmedge/edge"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestAdminRoutesAreAdminOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	routes := []struct{ method, url, body string }{
		{"GET", "/admin/v1/sync", ""},
		{"GET", "/admin/v1/outbox?state=all", ""},
		{"POST", "/admin/v1/outbox/retry", `{"all_dead":true}`},
		{"PUT", "/admin/v1/products", `[{"code":"P1","name":"x","score":1}]`},
		{"PUT", "/admin/v1/codes", `[{"code":"C1","product_code":"P1"}]`},
		{"PUT", "/admin/v1/gifts", `[{"code":"G1","name":"x","score":1}]`},
	}
	for _, r := range routes {
		for _, tk := range []struct {
			token  string
			status int
		}{{"none", 401}, {"crm_not_a_token", 401}, {"plain", 403}, {"pos1", 403}, {"admin", 200}} {
			before := tableCounts(t, h)
			resp, b := rawDo(t, h, r.method, r.url, tk.token, r.body)
			checkSecurityHeaders(t, resp)
			if resp.StatusCode != tk.status {
				t.Errorf("%s %s as %s: %d, want %d; %s", r.method, r.url, tk.token, resp.StatusCode, tk.status, b)
				continue
			}
			if tk.status != 200 {
				if _, problem := errorEnvelope(dAdmin, tk.status, b); problem != "" {
					t.Errorf("%s %s as %s: %s: %s", r.method, r.url, tk.token, problem, b)
				}
				sameCounts(t, before, tableCounts(t, h))
			}
		}
	}
	// Api-Key works like Bearer, and a revoked admin token stops at once.
	if resp, b := rawDo(t, h, "GET", "/admin/v1/sync", "apikey:admin", ""); resp.StatusCode != 200 {
		t.Errorf("Api-Key admin: %d %s", resp.StatusCode, b)
	}
	if err := h.svc.RevokeToken(context.Background(), "admin"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := rawDo(t, h, "GET", "/admin/v1/sync", "admin", ""); resp.StatusCode != 401 {
		t.Errorf("revoked admin token: %d, want 401", resp.StatusCode)
	}
	// A malformed Authorization header is a 401, not a fall-back to Api-Key.
	resp, _ := rawDo(t, h, "GET", "/admin/v1/sync", "none", "", "Authorization", "Basic YWRtaW46YWRtaW4=")
	if resp.StatusCode != 401 {
		t.Errorf("Basic auth: %d, want 401", resp.StatusCode)
	}
}

// TestPosScopedToken: a token limited to pos1 cannot read or write pos2's
// customers through any dialect, and what it writes is recorded at pos1.
func TestPosScopedToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withOfflineUpstream)
	seedForBadInput(t, h) // the seed member is at pos1, with 100 points
	// A customer of pos2 only, with points.
	h.mustDo(200, "POST", "/customers_location?pos_id=pos2", "", `{"phone":"0912000222","email":"pos2.only@example.com","name":"Pos Two"}`)
	h.mustDo(200, "POST", "/accumulate?pos_id=pos2", "", `{"code":"CODE3","data":{"phones":[{"value":"0912000222"}]}}`)
	var env struct {
		Data struct {
			ID string `json:"_id"`
		} `json:"data"`
	}
	json.Unmarshal(h.mustDo(200, "GET", "/customers_location?phone=0912000222&pos_id=pos2", "", ""), &env) //nolint:errcheck
	pos2ID := env.Data.ID
	h.mustDo(200, "PUT", "/admin/v1/codes", "", `[{"code":"CODE4","product_code":"TIVI01"},{"code":"CODE5","product_code":"TIVI01"}]`)

	denied := []struct {
		name, method, url, token, body, dialect string
		status                                  int
	}{
		{"member GET at pos2", "GET", "/customers_location?phone=0912000222&pos_id=pos2", "pos1", "", dMember, 403},
		{"member GET without pos_id", "GET", "/customers_location?phone=0912000222", "pos1", "", dMember, 404},
		{"member POST at pos2", "POST", "/customers_location?pos_id=pos2", "pos1", `{"phone":"0912000333"}`, dMember, 403},
		{"member PUT at pos2", "PUT", "/customers_location?pos_id=pos2", "pos1", `{"phone":"0912000222","name":"Hijack"}`, dMember, 403},
		{"history-point of a pos2 customer", "GET", "/history-point?phone=0912000222", "pos1", "", dLoyalty, 403},
		{"history-point by email", "GET", "/history-point?email=pos2.only%40example.com", "pos1", "", dLoyalty, 403},
		{"balance of a pos2 customer", "GET", "/balance?phone=0912000222", "pos1", "", dLoyalty, 403},
		{"redeem for a pos2 customer", "POST", "/redeem", "pos1", `{"code":"DAUMAY01","data":{"phone":"0912000222"}}`, dLoyalty, 403},
		{"redeem at pos2", "POST", "/redeem?pos_id=pos2", "pos1", `{"code":"DAUMAY01","data":{"phone":"` + hardPhone + `"}}`, dLoyalty, 403},
		{"accumulate at pos2", "POST", "/accumulate?pos_id=pos2", "pos1", `{"code":"CODE4","data":{"phones":[{"value":"` + hardPhone + `"}]}}`, dLoyalty, 403},
		{"profile GET of a pos2 customer", "GET", "/1.0/customer/" + pos2ID, "apikey:pos1", "", dProfile, 403},
		{"profile update of a pos2 customer", "POST", "/1.0/customer/update", "apikey:pos1", `{"_id":"` + pos2ID + `","email":"pos2.only@example.com","full_name":"Hijack"}`, dProfile, 403},
		{"admin", "GET", "/admin/v1/sync", "pos1", "", dAdmin, 403},
		{"profile create with a pos2 customer's email", "POST", "/1.0/customer/create", "apikey:pos1", `{"email":"pos2.only@example.com","full_name":"Probe"}`, dProfile, 403},
	}
	for _, d := range denied {
		before := tableCounts(t, h)
		resp, b := rawDo(t, h, d.method, d.url, d.token, d.body)
		if resp.StatusCode != d.status {
			t.Errorf("%s: %d, want %d; %s", d.name, resp.StatusCode, d.status, b)
			continue
		}
		if _, problem := errorEnvelope(d.dialect, d.status, b); problem != "" {
			t.Errorf("%s: %s: %s", d.name, problem, b)
		}
		if bytes.Contains(b, []byte("Pos Two")) || bytes.Contains(b, []byte("0912000222")) || bytes.Contains(b, []byte(pos2ID)) {
			t.Errorf("%s: the answer shows the pos2 customer: %s", d.name, b)
		}
		sameCounts(t, before, tableCounts(t, h))
	}

	// Its own location works, in every dialect.
	for _, ok := range []struct{ method, url, token, body string }{
		{"GET", "/customers_location?phone=" + hardPhone + "&pos_id=pos1", "pos1", ""},
		{"GET", "/customers_location?phone=" + hardPhone, "pos1", ""},
		{"GET", "/history-point?phone=" + hardPhone, "pos1", ""},
		{"GET", "/balance?phone=" + hardPhone, "pos1", ""},
		{"POST", "/redeem", "pos1", `{"code":"DAUMAY01","data":{"phone":"` + hardPhone + `"}}`},
		{"POST", "/1.0/customer/update", "apikey:pos1", `{"_id":"{ID}","email":"` + hardEmail + `","company":"Mine"}`},
	} {
		url, body := ok.url, ok.body
		id := idByPhone(t, h, hardPhone)
		url, body = strings.ReplaceAll(url, "{ID}", id), strings.ReplaceAll(body, "{ID}", id)
		if resp, b := rawDo(t, h, ok.method, url, ok.token, body); resp.StatusCode != 200 {
			t.Errorf("pos1 token, %s %s: %d %s", ok.method, url, resp.StatusCode, b)
		}
	}
	// An accumulate by the pos1 token, without pos_id, is recorded at pos1.
	b := h.mustDo(200, "POST", "/accumulate", "pos1", `{"code":"CODE5","data":{"phones":[{"value":"`+hardPhone+`"}]}}`)
	var acc struct {
		ID string `json:"id"`
	}
	json.Unmarshal(b, &acc) //nolint:errcheck
	phone, _ := edge.NormalizePhone(hardPhone)
	entries, _, err := h.svc.History(context.Background(), edge.HistoryQuery{Contact: edge.ContactPair("", phone, ""), Page: 1})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.ID == acc.ID {
			found = true
			if e.PosID != "pos1" || e.TokenName != "pos1" {
				t.Errorf("accumulate by the pos1 token recorded pos_id %q, token %q", e.PosID, e.TokenName)
			}
		}
	}
	if !found {
		t.Errorf("accumulate %s not in the ledger", acc.ID)
	}
}

func idByPhone(t testing.TB, h *harness, phone string) string {
	t.Helper()
	var env struct {
		Data struct {
			ID string `json:"_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(h.mustDo(200, "GET", "/customers_location?phone="+phone, "admin", ""), &env); err != nil {
		t.Fatal(err)
	}
	return env.Data.ID
}

// TestRateLimit: a runaway token gets 429 in its dialect's envelope while
// another token still gets through.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *harnessOptions) { o.server.RateLimit, o.server.RateBurst = 0.5, 3 })
	limited := map[string]int{}
	for i := range 10 {
		for _, r := range []struct{ dialect, url, token string }{
			{dLoyalty, "/balance?phone=" + hardPhone, "pos1"},
			{dMember, "/customers_location?phone=" + hardPhone, "pos1"},
			{dTypes, "/api/crm/type/list?vbot_id=v&project_code=p", "pos1"},
		} {
			resp, b := rawDo(t, h, "GET", r.url, r.token, "")
			checkSecurityHeaders(t, resp)
			if resp.StatusCode != 429 {
				if i >= 3 {
					t.Errorf("request %d of a runaway token: %d, want 429", i, resp.StatusCode)
				}
				continue
			}
			limited[r.dialect]++
			if _, problem := errorEnvelope(r.dialect, 429, b); problem != "" {
				t.Errorf("429 not in the %s envelope (%s): %s", r.dialect, problem, b)
			}
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		}
	}
	if len(limited) != 3 {
		t.Errorf("429s per dialect: %v", limited)
	}
	// The other tills are not starved.
	for range 3 {
		if resp, b := rawDo(t, h, "GET", "/balance?phone="+hardPhone, "plain", ""); resp.StatusCode != 200 {
			t.Errorf("another token while one runs away: %d %s", resp.StatusCode, b)
		}
	}
	// A wrong token is refused before it can spend anyone's budget.
	if resp, _ := rawDo(t, h, "GET", "/balance?phone="+hardPhone, "crm_wrong", ""); resp.StatusCode != 401 {
		t.Errorf("bad token under rate limiting: %d", resp.StatusCode)
	}
}

// TestSecurityHeadersEverywhere: successes, every kind of error, unknown
// paths, wrong methods, the body cap, health and metrics.
func TestSecurityHeadersEverywhere(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, r := range []struct {
		method, url, token, body string
		status                   int
	}{
		{"GET", "/healthz", "none", "", 200},
		{"GET", "/readyz", "none", "", 200},
		{"GET", "/metrics", "none", "", 200},
		{"GET", "/customers_location?phone=" + hardPhone, "", "", 404},
		{"GET", "/customers_location", "", "", 400},
		{"GET", "/customers_location?phone=" + hardPhone, "none", "", 401},
		{"GET", "/admin/v1/sync", "plain", "", 403},
		{"GET", "/no/such/path", "none", "", 404},
		{"DELETE", "/customers_location", "", "", 405},
		{"POST", "/accumulate", "", `{"code":"` + strings.Repeat("x", 1<<20) + `"}`, 413},
		{"GET", "/balance?phone=" + hardPhone, "", "", 200},
	} {
		resp, b := rawDo(t, h, r.method, r.url, r.token, r.body)
		if resp.StatusCode != r.status {
			t.Errorf("%s %s: %d, want %d; %.200s", r.method, r.url, resp.StatusCode, r.status, b)
		}
		checkSecurityHeaders(t, resp)
		if r.url != "/metrics" && !json.Valid(b) {
			t.Errorf("%s %s: not JSON: %.200s", r.method, r.url, b)
		}
	}
}

// lockedLog is a log destination safe for the server's goroutines.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRequestLogAndIDs: every request is logged once as JSON with its
// request id, echoed in X-Request-Id; a client's id is kept when it is
// sane; tokens, phones, emails and query strings never reach the log.
func TestRequestLogAndIDs(t *testing.T) {
	t.Parallel()
	var logs lockedLog
	h := newHarness(t, func(o *harnessOptions) {
		o.server.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	resp, _ := rawDo(t, h, "POST", "/customers_location?pos_id=pos1", "", `{"phone":"`+hardPhone+`","email":"`+hardEmail+`"}`,
		"X-Request-Id", "till-7.req-42")
	if got := resp.Header.Get("X-Request-Id"); got != "till-7.req-42" {
		t.Errorf("X-Request-Id echoed as %q", got)
	}
	for _, hostile := range []string{strings.Repeat("a", 65), "a\"b", "x y", "<script>"} {
		resp, _ := rawDo(t, h, "GET", "/healthz", "none", "", "X-Request-Id", hostile)
		if got := resp.Header.Get("X-Request-Id"); got == hostile || len(got) != 16 {
			t.Errorf("X-Request-Id %q answered with %q, want a fresh id", hostile, got)
		}
	}
	rawDo(t, h, "GET", "/customers_location?pos_id=pos1&phone=%2B84945350398", "plain", "")
	rawDo(t, h, "GET", "/balance?email="+hardEmail, "pos1", "")
	rawDo(t, h, "POST", "/1.0/customer/update", "apikey:admin", `{"_id":"zz","phone":"`+hardPhone+`"}`)
	rawDo(t, h, "GET", "/customers_location?phone="+hardPhone, "crm_secret_but_wrong", "")

	ids := map[string]bool{}
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %s", line)
		}
		if rec["msg"] == "request" {
			id, _ := rec["request_id"].(string)
			if id == "" || rec["route"] == nil || rec["status"] == nil {
				t.Errorf("request log without request_id, route or status: %s", line)
			}
			ids[id] = true
		}
	}
	if !ids["till-7.req-42"] || len(ids) < 5 {
		t.Errorf("request ids in the log: %v", ids)
	}
	all := logs.String()
	secrets := []string{hardPhone, "84945350398", "945350398", hardEmail, "crm_secret_but_wrong", "pos_id=", "phone="}
	for _, tk := range h.tokens {
		secrets = append(secrets, tk, tk[4:20])
	}
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("the log holds %q:\n%s", s, all)
		}
	}
}

// TestMetricsExposition: /metrics is Prometheus text with request counts and
// latency histograms per route and status, and the outbox and forwarding
// series.
func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withOfflineUpstream)
	h.mustDo(200, "POST", "/customers_location?pos_id=pos1", "", `{"phone":"`+hardPhone+`"}`)
	h.mustDo(404, "GET", "/customers_location?phone=0912999888", "", "")
	h.mustDo(200, "GET", "/customers_location?phone="+hardPhone, "", "")
	resp, b := rawDo(t, h, "GET", "/metrics", "none", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v\n%s", err, b)
	}
	find := func(name string, want map[string]string) float64 {
		t.Helper()
		f, ok := fams[name]
		if !ok {
			t.Errorf("no %s", name)
			return -1
		}
	metrics:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
		t.Errorf("no %s%v", name, want)
		return -1
	}
	if v := find("crmedge_http_requests_total", map[string]string{"route": "/customers_location", "method": "GET", "status": "404"}); v != 1 {
		t.Errorf("requests GET /customers_location 404 = %v, want 1", v)
	}
	if v := find("crmedge_http_requests_total", map[string]string{"route": "/customers_location", "method": "POST", "status": "200"}); v != 1 {
		t.Errorf("requests POST /customers_location 200 = %v, want 1", v)
	}
	if v := find("crmedge_http_request_duration_seconds", map[string]string{"route": "/customers_location", "method": "GET", "status": "200"}); v != 1 {
		t.Errorf("latency samples GET /customers_location 200 = %v, want 1", v)
	}
	if v := find("crmedge_outbox_pending", nil); v != 1 {
		t.Errorf("outbox pending = %v, want 1 (the member create)", v)
	}
	find("crmedge_outbox_dead", nil)
	find("crmedge_upstream_online", nil)
	for _, result := range []string{"delivered", "retry", "dead"} {
		find("crmedge_upstream_forward_total", map[string]string{"result": result})
	}
}

// readCountingStore counts the read transactions of the store it wraps.
type readCountingStore struct {
	edge.Store
	mu    sync.Mutex
	reads int
}

func (s *readCountingStore) Read(ctx context.Context, fn func(edge.Tx) error) error {
	s.mu.Lock()
	s.reads++
	s.mu.Unlock()
	return s.Store.Read(ctx, fn)
}

// TestMetricsOneSyncPerScrape: the three outbox gauges come from one read of
// the sync status per scrape, not one each.
func TestMetricsOneSyncPerScrape(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withOfflineUpstream)
	h.mustDo(200, "POST", "/customers_location?pos_id=pos1", "", `{"phone":"`+hardPhone+`"}`)
	store := &readCountingStore{Store: h.db}
	m := edge.NewMetrics(edge.NewService(edge.Config{Store: store, Upstream: offlineUpstream{}}))
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if store.reads != 1 {
		t.Errorf("one scrape read the store %d times, want 1", store.reads)
	}
	want := map[string]float64{"crmedge_outbox_pending": 1, "crmedge_outbox_dead": 0, "crmedge_upstream_online": 0}
	for _, f := range fams {
		if v, ok := want[f.GetName()]; ok {
			if got := f.GetMetric()[0].GetGauge().GetValue(); got != v || f.GetType().String() != "GAUGE" {
				t.Errorf("%s = %v (%s), want gauge %v", f.GetName(), got, f.GetType(), v)
			}
			delete(want, f.GetName())
		}
	}
	if len(want) > 0 {
		t.Errorf("gauges missing: %v", want)
	}
}

// TestRequestLogWarnsIgnoredPhones: a phone an accumulate or redeem ignored
// (it does not parse) is not in the answer but in the request log, at info
// level, masked to its last three digits.
func TestRequestLogWarnsIgnoredPhones(t *testing.T) {
	t.Parallel()
	var logs lockedLog
	h := newHarness(t, func(o *harnessOptions) {
		o.server.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	seedCatalog(t, h)
	const typo = "0945 350 398 12" // one digit too many
	body := h.mustDo(200, "POST", "/accumulate", "", `{"code":"TIVInpmx8b98pfg","data":{"phones":[{"value":"`+typo+`"}],"emails":[{"value":"`+hardEmail+`"}]}}`)
	if strings.Contains(string(body), "warnings") {
		t.Errorf("the answer holds the warnings: %s", body)
	}
	h.mustDo(200, "POST", "/redeem", "", `{"code":"DAUMAY01","data":{"phone":"023232","email":"`+hardEmail+`"}}`)
	want := map[string]string{
		"/accumulate": "data.phones[0] is not a valid phone number and was ignored (************812)",
		"/redeem":     "data.phone is not a valid phone number and was ignored (***232)",
	}
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec struct {
			Msg      string   `json:"msg"`
			Level    string   `json:"level"`
			Route    string   `json:"route"`
			Warnings []string `json:"warnings"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %s", line)
		}
		if w, ok := want[rec.Route]; ok && rec.Msg == "request" {
			if rec.Level != "INFO" || len(rec.Warnings) != 1 || rec.Warnings[0] != w {
				t.Errorf("%s logged at %s with warnings %q, want %q", rec.Route, rec.Level, rec.Warnings, w)
			}
			delete(want, rec.Route)
		}
	}
	if len(want) > 0 {
		t.Errorf("no request log line for %v:\n%s", want, logs.String())
	}
	for _, s := range []string{typo, "094535039812", "945350398", "023232", hardEmail} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log holds %q:\n%s", s, logs.String())
		}
	}
}
