package upstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"crmedge/edge"
	"crmedge/sqlstore"
	"crmedge/upstream"
	"crmedge/upstream/fakecrm"
)

// rig is one edge (real SQLite file, real HTTP API) whose forwarder sends to
// an in-process fakecrm, served through a middleware that watches and, on
// demand, fails requests.
type rig struct {
	t      testing.TB
	db     *sqlstore.DB
	svc    *edge.Service
	client *upstream.Client
	api    *httptest.Server
	crm    *fakecrm.CRM
	crmSrv *httptest.Server
	token  string
	watch  *watcher
	stop   func() // stops the forwarder (idempotent)
	opts   rigOptions

	mu      sync.Mutex
	results map[string]int
}

type rigOptions struct {
	concurrency    int
	baseBackoff    time.Duration
	maxBackoff     time.Duration
	forwardTimeout time.Duration
	timeout        time.Duration
	poll           time.Duration
	probe          time.Duration
	crm            fakecrm.Options
	noForwarder    bool
	noNotify       bool
	store          func(edge.Store) edge.Store // wraps the store the service sees
}

// watcher sits in front of the fakecrm: it tracks concurrency (overall and per
// key of the body, e.g. a phone) and can answer a request itself.
type watcher struct {
	mu          sync.Mutex
	inflight    int
	maxInflight int
	perStream   map[string]int
	overlap     bool // two requests of one stream were in flight at once
	streamOf    func(body []byte) string
	// fail, when set, may answer a request with a status instead of the fake.
	fail func(r *http.Request, body []byte) int
}

func (w *watcher) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		w.mu.Lock()
		fail := w.fail
		stream := ""
		if w.streamOf != nil && !strings.HasPrefix(r.URL.Path, "/_fake/") {
			stream = w.streamOf(body)
		}
		w.inflight++
		w.maxInflight = max(w.maxInflight, w.inflight)
		if stream != "" {
			if w.perStream[stream] > 0 {
				w.overlap = true
			}
			w.perStream[stream]++
		}
		w.mu.Unlock()
		defer func() {
			w.mu.Lock()
			w.inflight--
			if stream != "" {
				w.perStream[stream]--
			}
			w.mu.Unlock()
		}()
		if fail != nil {
			if status := fail(r, body); status != 0 {
				rw.Header().Set("Content-Type", "application/json")
				rw.WriteHeader(status)
				_, _ = rw.Write([]byte(`{"success":0,"status":0,"message":"injected by the test","error":"injected"}`))
				return
			}
		}
		next.ServeHTTP(rw, r)
	})
}

func (w *watcher) setFail(f func(r *http.Request, body []byte) int) {
	w.mu.Lock()
	w.fail = f
	w.mu.Unlock()
}

func (w *watcher) stats() (maxInflight int, overlap bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxInflight, w.overlap
}

// phoneOf is a streamOf for member and loyalty bodies.
func phoneOf(body []byte) string {
	var b struct {
		Phone string `json:"phone"`
		Data  struct {
			Phone  string `json:"phone"`
			Phones []struct {
				Value string `json:"value"`
			} `json:"phones"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &b)
	switch {
	case b.Phone != "":
		return b.Phone
	case b.Data.Phone != "":
		return b.Data.Phone
	case len(b.Data.Phones) > 0:
		return b.Data.Phones[0].Value
	}
	return ""
}

func newRig(t testing.TB, opt ...func(*rigOptions)) *rig {
	t.Helper()
	o := rigOptions{concurrency: 4, baseBackoff: 20 * time.Millisecond, maxBackoff: 200 * time.Millisecond,
		forwardTimeout: 2 * time.Second, timeout: time.Second, poll: 50 * time.Millisecond, probe: 50 * time.Millisecond,
		crm: fakecrm.Options{AcceptUnknownCodes: true, Token: "central-token"}}
	for _, f := range opt {
		f(&o)
	}
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "edge.db"), sqlstore.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	r := &rig{t: t, db: db, results: map[string]int{}}
	r.crm = fakecrm.New(o.crm)
	r.watch = &watcher{perStream: map[string]int{}, streamOf: phoneOf}
	r.crmSrv = httptest.NewServer(r.watch.wrap(r.crm))
	t.Cleanup(func() {
		r.crm.Close()
		r.crmSrv.Close()
	})
	r.client, err = upstream.New(upstream.Options{BaseURL: r.crmSrv.URL, Token: o.crm.Token, EdgeID: "edge-under-test",
		Concurrency: o.concurrency, Timeout: o.timeout, ForwardTimeout: o.forwardTimeout, MaxBackoff: o.maxBackoff})
	if err != nil {
		t.Fatalf("upstream.New: %v", err)
	}
	var store edge.Store = db
	if o.store != nil {
		store = o.store(db)
	}
	cfg := edge.Config{Store: store, Upstream: r.client, Org: "62c10674cbe832bc9245a5b8"}
	if !o.noNotify {
		cfg.Notify = r.client.Notify
	}
	r.svc = edge.NewService(cfg)
	if r.token, err = r.svc.CreateToken(ctx, "admin", nil, true); err != nil {
		t.Fatalf("create token: %v", err)
	}
	r.api = httptest.NewServer(edge.NewServer(r.svc, edge.ServerOptions{}))
	t.Cleanup(r.api.Close)
	r.opts = o
	r.stop = func() {}
	if !o.noForwarder {
		r.start()
	}
	return r
}

// start runs the forwarder until the test ends (or r.stop).
func (r *rig) start() {
	t, o := r.t, r.opts
	fctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	fwd := upstream.NewForwarder(r.client, r.svc, upstream.ForwarderOptions{
		PollInterval: o.poll, BaseBackoff: o.baseBackoff, ProbeInterval: o.probe,
		OnResult: func(res string) {
			r.mu.Lock()
			r.results[res]++
			r.mu.Unlock()
		}})
	go func() {
		defer close(done)
		fwd.Run(fctx)
	}()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("the forwarder did not stop within 10 s of its context ending")
			}
		})
	}
	t.Cleanup(r.stop)
}

// do sends a request to the edge with the admin token.
func (r *rig) do(method, path, body string, headers ...string) (int, []byte) {
	r.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.api.URL+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := r.api.Client().Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (r *rig) mustDo(want int, method, path, body string, headers ...string) []byte {
	r.t.Helper()
	st, b := r.do(method, path, body, headers...)
	if st != want {
		r.t.Fatalf("%s %s: %d, want %d: %s", method, path, st, want, b)
	}
	return b
}

// events lists the outbox (every state) in commit order.
func (r *rig) events() []edge.Event {
	r.t.Helper()
	evs, err := r.svc.OutboxEvents(context.Background(), edge.OutboxFilter{State: -1, Limit: 10000})
	if err != nil {
		r.t.Fatal(err)
	}
	return evs
}

func (r *rig) sync() edge.SyncStatus {
	r.t.Helper()
	st, err := r.svc.Sync(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return st
}

// drained waits until nothing is pending.
func (r *rig) drained(timeout time.Duration) {
	r.t.Helper()
	waitFor(r.t, timeout, "outbox drained", func() bool { return r.sync().Pending == 0 })
}

func (r *rig) result(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.results[name]
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// appliedKeys lists the Idempotency-Keys the fake applied, in apply order.
func appliedKeys(crm *fakecrm.CRM) []string {
	var keys []string
	for _, rq := range crm.Applied() {
		keys = append(keys, rq.IdempotencyKey)
	}
	return keys
}

// countingStore counts reads, to show the forwarder does not spin.
type countingStore struct {
	edge.Store
	reads    atomic.Int64
	dueReads atomic.Int64 // reads of the outbox's due events
}

func (c *countingStore) Read(ctx context.Context, fn func(edge.Tx) error) error {
	c.reads.Add(1)
	return c.Store.Read(ctx, func(tx edge.Tx) error { return fn(countingTx{tx, &c.dueReads}) })
}

// countingTx counts the forwarder's reads of the outbox (DueEvents).
type countingTx struct {
	edge.Tx
	n *atomic.Int64
}

func (c countingTx) DueEvents(now time.Time, limit int, skip []string) ([]edge.Event, error) {
	c.n.Add(1)
	return c.Tx.DueEvents(now, limit, skip)
}

func memberBody(phone, name string) string {
	return `{"phone":"` + phone + `","name":"` + name + `"}`
}

func phone(i int) string { return fmt.Sprintf("0912%06d", i) }
