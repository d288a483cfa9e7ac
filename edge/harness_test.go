package edge_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"crmedge/edge"
	"crmedge/sqlstore"
)

// clock is a settable time source for the service under test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// harness is one crmedge over real HTTP on loopback, on a fresh SQLite file.
type harness struct {
	t      testing.TB
	db     *sqlstore.DB
	svc    *edge.Service
	srv    *httptest.Server
	clock  *clock
	tokens map[string]string // name → secret
}

type harnessOptions struct {
	upstream edge.Upstream
	org      string
	server   edge.ServerOptions
}

// newHarness starts a server with three tokens: "admin" (admin), "plain"
// (any location, not admin) and "pos1" (limited to pos_id pos1).
func newHarness(t testing.TB, opts ...func(*harnessOptions)) *harness {
	t.Helper()
	o := harnessOptions{org: "62c10674cbe832bc9245a5b8"}
	for _, f := range opts {
		f(&o)
	}
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, freshDBFile(t), sqlstore.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	clk := &clock{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	cfg := edge.Config{Store: db, Org: o.org, Now: clk.Now}
	if o.upstream != nil {
		cfg.Upstream = o.upstream
	}
	svc := edge.NewService(cfg)
	h := &harness{t: t, db: db, svc: svc, clock: clk, tokens: map[string]string{}}
	for _, tk := range []struct {
		name  string
		pos   []string
		admin bool
	}{{"admin", nil, true}, {"plain", nil, false}, {"pos1", []string{"pos1"}, false}} {
		secret, err := svc.CreateToken(ctx, tk.name, tk.pos, tk.admin)
		if err != nil {
			t.Fatalf("create token: %v", err)
		}
		h.tokens[tk.name] = secret
	}
	h.srv = httptest.NewServer(edge.NewServer(svc, o.server))
	t.Cleanup(func() {
		h.srv.Close()
		if err := db.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return h
}

// do sends a request with the named token ("" = admin, "none" = no header,
// "apikey:NAME" sends NAME's token as Api-Key, anything not a token name is
// sent as the raw secret) and returns the status and the body.
func (h *harness) do(method, url, token, body string, headers ...string) (int, []byte) {
	h.t.Helper()
	resp, b := rawDo(h.t, h, method, url, token, body, headers...)
	return resp.StatusCode, b
}

// rawDo is harness.do as t, returning the whole response (body already
// read) so its headers can be checked.
func rawDo(t testing.TB, h *harness, method, url, token, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+url, rd)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if token == "" {
		token = "admin"
	}
	secretOf := func(name string) string {
		if secret, ok := h.tokens[name]; ok {
			return secret
		}
		return name
	}
	if name, ok := strings.CutPrefix(token, "apikey:"); ok {
		req.Header.Set("Api-Key", secretOf(name))
	} else if token != "none" {
		req.Header.Set("Authorization", "Bearer "+secretOf(token))
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, b
}

// mustDo is do that fails the test unless the status is want.
func (h *harness) mustDo(want int, method, url, token, body string, headers ...string) []byte {
	h.t.Helper()
	status, b := h.do(method, url, token, body, headers...)
	if status != want {
		h.t.Fatalf("%s %s: status %d, want %d; body %s", method, url, status, want, b)
	}
	return b
}

// count runs a COUNT query through a read transaction of the store.
func (h *harness) outboxLen() int {
	h.t.Helper()
	evs, err := h.svc.OutboxEvents(context.Background(), edge.OutboxFilter{State: -1, Limit: 10000})
	if err != nil {
		h.t.Fatalf("outbox: %v", err)
	}
	return len(evs)
}

// scenario is one row of a dialect's table: a request against a fresh
// database, prepared by setup, and what the answer must hold.
type scenario struct {
	name        string
	setup       func(t *testing.T, h *harness)
	method      string
	url         string
	token       string // see harness.do (e.g. "apikey:admin")
	body        string
	headers     []string // name, value, ...
	status      int
	contains    []string // fragments the body must contain
	notContains []string
	check       func(t *testing.T, h *harness, body []byte)
	opts        []func(*harnessOptions)
}

func runScenarios(t *testing.T, scs []scenario) {
	t.Helper()
	runScenarioTable(t, scs, false)
}

// runScenariosParallel is runScenarios with the rows run in parallel (each
// has its own database and server); for tables whose rows share nothing else.
func runScenariosParallel(t *testing.T, scs []scenario) {
	t.Helper()
	runScenarioTable(t, scs, true)
}

func runScenarioTable(t *testing.T, scs []scenario, parallel bool) {
	t.Helper()
	for _, sc := range scs {
		t.Run(sc.name, func(t *testing.T) {
			if parallel {
				t.Parallel()
			}
			h := newHarness(t, sc.opts...)
			if sc.setup != nil {
				sc.setup(t, h)
			}
			status, body := h.do(sc.method, sc.url, sc.token, sc.body, sc.headers...)
			if status != sc.status {
				t.Fatalf("status %d, want %d; body %s", status, sc.status, body)
			}
			if !json.Valid(body) {
				t.Fatalf("body is not JSON: %s", body)
			}
			for _, frag := range sc.contains {
				if !strings.Contains(string(body), frag) {
					t.Errorf("body lacks %s\nbody: %s", frag, body)
				}
			}
			for _, frag := range sc.notContains {
				if strings.Contains(string(body), frag) {
					t.Errorf("body holds %s\nbody: %s", frag, body)
				}
			}
			if sc.check != nil {
				sc.check(t, h, body)
			}
		})
	}
}

// decode unmarshals a JSON body into a generic value for field checks.
func decode(t testing.TB, body []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}
