package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"crmedge/edge"
	"crmedge/sqlstore"
)

// The benchmarks share one server per `go test` process, started by the
// first benchmark that needs it: a copy of the cached fixture (generated once
// under os.TempDir(), ~30 s), crmedge's real Service and HTTP server on a
// loopback listener, durable (synchronous=FULL), with an upstream configured
// but offline so every write also queues its outbox event, as in a shop.
// Nothing here runs without -bench.

var connCounts = []int{1, 8, 32, 128}

type env struct {
	spec  sqlstore.FixtureSpec
	dir   string
	db    *sqlstore.DB
	srv   *http.Server
	addr  string
	token string

	nextCode  atomic.Int64 // codes ≥ spec.UsedCodes() handed out so far
	nextPhone atomic.Int64 // new members created so far
}

var (
	envOnce sync.Once
	shared  *env
	envErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.close()
	}
	os.Exit(code)
}

func getEnv(b *testing.B) *env {
	b.Helper()
	envOnce.Do(func() { shared, envErr = newEnv(sqlstore.BenchFixture) })
	if envErr != nil {
		b.Fatalf("benchmark environment: %v", envErr)
	}
	return shared
}

func newEnv(spec sqlstore.FixtureSpec) (*env, error) {
	ctx := context.Background()
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400) // as `crmedge serve` does (main.go serveGC)
	}
	start := time.Now()
	fixture, err := sqlstore.CachedFixture(ctx, os.TempDir(), spec)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "bench: fixture %s ready in %s\n", fixture, time.Since(start).Round(time.Millisecond))
	dir, err := os.MkdirTemp("", "crmedge-bench-")
	if err != nil {
		return nil, err
	}
	e := &env{spec: spec, dir: dir}
	path := filepath.Join(dir, "crmedge.db")
	if err := sqlstore.CopyDB(fixture, path); err != nil {
		e.close()
		return nil, err
	}
	if e.db, err = sqlstore.Open(ctx, path, sqlstore.Options{}); err != nil {
		e.close()
		return nil, err
	}
	svc := edge.NewService(edge.Config{Store: e.db, Upstream: offlineUpstream{}, Org: "62c10674cbe832bc9245a5b8"})
	if e.token, err = svc.CreateToken(ctx, "bench", nil, false); err != nil {
		e.close()
		return nil, err
	}
	// As main.go wires it, with request logging formatted (to nowhere).
	api := edge.NewServer(svc, edge.ServerOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.close()
		return nil, err
	}
	e.addr = ln.Addr().String()
	e.srv = &http.Server{Handler: api, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	go e.srv.Serve(ln) //nolint:errcheck // ends with Close
	return e, nil
}

func (e *env) close() {
	if e.srv != nil {
		e.srv.Close()
	}
	if e.db != nil {
		e.db.Close()
	}
	os.RemoveAll(e.dir)
}

// offlineUpstream is a central CRM that cannot be reached: writes queue their
// outbox events (the forwarder is not running), nothing is called.
type offlineUpstream struct{}

var errOffline = errors.New("offline (benchmark)")

func (offlineUpstream) Status() edge.UpstreamStatus {
	return edge.UpstreamStatus{Online: false, LastError: errOffline.Error()}
}
func (offlineUpstream) FetchMember(context.Context, string, string) (*edge.Customer, error) {
	return nil, errOffline
}
func (offlineUpstream) FetchHistory(context.Context, edge.Contact) ([]edge.LedgerEntry, error) {
	return nil, errOffline
}
func (offlineUpstream) Accumulate(context.Context, edge.Call) (int, []byte, error) {
	return 0, nil, errOffline
}

// worker is one connection's state while a load runs.
type worker struct {
	c   *client
	rng *rand.Rand
	buf []byte
	tmp []byte
	lat []time.Duration
}

// build formats request i for a worker.
type build func(w *worker, i int64) []byte

// result of one load run.
type result struct {
	n       int64
	elapsed time.Duration
	p50     time.Duration
	p99     time.Duration
	cpu     time.Duration // process CPU (server and client) during the run
	status  map[int]int64
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (r result) perSec() float64 { return float64(r.n) / r.elapsed.Seconds() }

// load sends n requests over conns connections, as fast as they are
// answered, and measures throughput and latency. Every answer's status must be
// in ok (default 200).
func (e *env) load(conns int, n int64, mk build, ok ...int) (result, error) {
	if len(ok) == 0 {
		ok = []int{http.StatusOK}
	}
	ws := make([]*worker, conns)
	for i := range ws {
		c, err := dial(e.addr)
		if err != nil {
			return result{}, err
		}
		ws[i] = &worker{c: c, rng: rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))),
			lat: make([]time.Duration, 0, n/int64(conns)+1)}
		defer c.Close()
	}
	var next atomic.Int64
	var failed atomic.Value
	statuses := make([]map[int]int64, conns)
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	start := time.Now()
	for k, w := range ws {
		statuses[k] = map[int]int64{}
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > n {
					return
				}
				req := mk(w, i)
				t0 := time.Now()
				status, body, err := w.c.do(req)
				w.lat = append(w.lat, time.Since(t0))
				if err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				statuses[k][status]++
				if !slices.Contains(ok, status) {
					failed.CompareAndSwap(nil, fmt.Errorf("status %d: %s", status, body))
				}
			}
		})
	}
	wg.Wait()
	res := result{n: n, elapsed: time.Since(start), cpu: cpuTime() - cpu0, status: map[int]int64{}}
	if err, _ := failed.Load().(error); err != nil {
		return res, err
	}
	var all []time.Duration
	for k, w := range ws {
		all = append(all, w.lat...)
		for s, c := range statuses[k] {
			res.status[s] += c
		}
	}
	slices.Sort(all)
	res.p50, res.p99 = all[len(all)*50/100], all[min(len(all)-1, len(all)*99/100)]
	return res, nil
}

func report(b *testing.B, r result) {
	b.ReportMetric(r.perSec(), "req/s")
	b.ReportMetric(float64(r.p50.Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(r.p99.Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(r.cpu.Microseconds())/float64(r.n), "cpu_us/req")
}

// runConns runs a sub-benchmark per connection count.
func runConns(b *testing.B, mk build, after func(b *testing.B, conns int, r result)) {
	e := getEnv(b)
	for _, conns := range connCounts {
		b.Run("conns="+strconv.Itoa(conns), func(b *testing.B) {
			c0, w0 := e.db.CommitStats()
			r, err := e.load(conns, int64(max(b.N, conns)), mk)
			if err != nil {
				b.Fatal(err)
			}
			report(b, r)
			if c1, w1 := e.db.CommitStats(); c1 > c0 {
				b.ReportMetric(float64(w1-w0)/float64(c1-c0), "writes/commit")
			}
			if after != nil {
				after(b, conns, r)
			}
		})
	}
}

// floor is the raw durable single-commit rate of the disk the fixture is on,
// measured once per run.
var floorOnce = sync.OnceValues(func() (float64, error) {
	return sqlstore.CommitFloor(context.Background(), os.TempDir(), "FULL", 3*time.Second)
})

// BenchmarkFloor measures raw SQLite on this disk: single-row INSERTs, one
// transaction each, from one goroutine: durable (synchronous=FULL, an fsync
// per commit) and not (NORMAL).
func BenchmarkFloor(b *testing.B) {
	full, err := floorOnce()
	if err != nil {
		b.Fatal(err)
	}
	normal, err := sqlstore.CommitFloor(context.Background(), os.TempDir(), "NORMAL", time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(full, "full_commits/s")
	b.ReportMetric(normal, "normal_commits/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkAccumulate: POST /accumulate, each request spending a fresh code
// for a random existing customer (by phone), durable. x_floor is the
// throughput over the raw durable single-commit floor.
func BenchmarkAccumulate(b *testing.B) {
	floor, err := floorOnce()
	if err != nil {
		b.Fatal(err)
	}
	e := getEnv(b)
	target := "/accumulate?pos_id=" + e.spec.PosID
	free := int64(e.spec.Codes - e.spec.UsedCodes())
	runConns(b, func(w *worker, _ int64) []byte {
		k := e.nextCode.Add(1)
		if k > free {
			panic("bench: the fixture's free codes are used up; raise FixtureSpec.Codes")
		}
		c := 2 + w.rng.IntN(e.spec.Customers-2)
		w.tmp = fmt.Appendf(w.tmp[:0], `{"code":%q,"data":{"name":"Customer %d","phones":[{"type":"mobile","value":%q}],"emails":[]}}`,
			e.spec.Code(e.spec.UsedCodes()+int(k)-1), c, e.spec.Phone(c))
		w.buf = request(w.buf, "POST", target, e.token, w.tmp)
		return w.buf
	}, func(b *testing.B, _ int, r result) {
		b.ReportMetric(r.perSec()/floor, "x_floor")
	})
}

// BenchmarkRedeem: POST /redeem of a 10-point gift, every request on the same
// customer (the worst case for the balance check). Before timing, a
// correctness run checks that concurrent redeems never overdraw.
func BenchmarkRedeem(b *testing.B) {
	e := getEnv(b)
	checkRedeemNeverOverdraws(b, e)
	target := "/redeem?pos_id=" + e.spec.PosID
	body := fmt.Appendf(nil, `{"code":%q,"data":{"phone":%q}}`, e.spec.GiftCode(0), e.spec.Phone(1))
	runConns(b, func(w *worker, _ int64) []byte {
		w.buf = request(w.buf, "POST", target, e.token, body)
		return w.buf
	}, nil)
}

var redeemChecked atomic.Bool

// checkRedeemNeverOverdraws gives a new customer points for exactly 50 gifts
// and sends 200 redeems over 32 connections: exactly 50 must succeed, the rest
// be refused with 409, and the balance end at 0.
func checkRedeemNeverOverdraws(b *testing.B, e *env) {
	if redeemChecked.Load() {
		return
	}
	const gifts, conns, tries = 50, 32, 200
	phone := fmt.Sprintf("0989%06d", time.Now().UnixNano()%1_000_000)
	c, err := dial(e.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	// 5 codes of product P10 (100 points each) = 500 points = 50 gifts of 10.
	for accumulated := 0; accumulated < 5; {
		k := e.nextCode.Add(1)
		i := e.spec.UsedCodes() + int(k) - 1
		if i%e.spec.Products != e.spec.Products-1 {
			continue // not a P10 code; the next benchmark spends it
		}
		body := fmt.Appendf(nil, `{"code":%q,"data":{"name":"Redeem check","phones":[{"type":"mobile","value":%q}]}}`, e.spec.Code(i), phone)
		status, resp, err := c.do(request(nil, "POST", "/accumulate?pos_id="+e.spec.PosID, e.token, body))
		if err != nil || status != 200 {
			b.Fatalf("accumulate for the redeem check: %d %s %v", status, resp, err)
		}
		accumulated++
	}
	body := fmt.Appendf(nil, `{"code":%q,"data":{"phone":%q}}`, e.spec.GiftCode(0), phone)
	r, err := e.load(conns, tries, func(w *worker, _ int64) []byte {
		w.buf = request(w.buf, "POST", "/redeem?pos_id="+e.spec.PosID, e.token, body)
		return w.buf
	}, http.StatusOK, http.StatusConflict)
	if err != nil {
		b.Fatal(err)
	}
	if r.status[200] != gifts || r.status[409] != tries-gifts {
		b.Fatalf("redeem check: %v, want %d × 200 and %d × 409", r.status, gifts, tries-gifts)
	}
	status, resp, err := c.do(request(nil, "GET", "/balance?phone="+phone, e.token, nil))
	if err != nil || status != 200 || !bytes.Contains(resp, []byte(`"balance":0,`)) {
		b.Fatalf("balance after the redeem check: %d %s %v", status, resp, err)
	}
	redeemChecked.Store(true)
}

// BenchmarkMemberGet: GET /customers_location for a random member by phone.
func BenchmarkMemberGet(b *testing.B) {
	e := getEnv(b)
	runConns(b, func(w *worker, _ int64) []byte {
		c := w.rng.IntN(e.spec.Customers)
		w.tmp = fmt.Appendf(w.tmp[:0], "/customers_location?phone=%s&pos_id=%s", e.spec.Phone(c), e.spec.PosID)
		w.buf = request(w.buf, "GET", string(w.tmp), e.token, nil)
		return w.buf
	}, nil)
}

// BenchmarkMemberPost: POST /customers_location creating a new member.
func BenchmarkMemberPost(b *testing.B) {
	e := getEnv(b)
	target := "/customers_location?pos_id=" + e.spec.PosID
	runConns(b, func(w *worker, _ int64) []byte {
		k := e.nextPhone.Add(1)
		w.tmp = fmt.Appendf(w.tmp[:0], `{"phone":"091%07d","name":"New Member %d","email":"new%d@example.com","gender":"1","birthday":"05-17","year_birthday":"1990","address":"1 Le Loi"}`, k, k, k)
		w.buf = request(w.buf, "POST", target, e.token, w.tmp)
		return w.buf
	}, nil)
}

// BenchmarkHistoryPage: GET /history-point, first page (20 items), of the
// customer with 10,000 entries.
func BenchmarkHistoryPage(b *testing.B) {
	e := getEnv(b)
	target := "/history-point?phone=" + e.spec.Phone(0) + "&page=1"
	runConns(b, func(w *worker, _ int64) []byte {
		w.buf = request(w.buf, "GET", target, e.token, nil)
		return w.buf
	}, nil)
}
