package main

// End-to-end store and forward with real processes: the crmedge binary
// forwarding to the fake central CRM run as its own process, or to a second
// crmedge as hub.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"crmedge/sqlstore"
	"crmedge/upstream/fakecrm"
)

// fakecrmBinary is the fake central CRM's process.
func fakecrmBinary(t testing.TB) string { return goBuild(t, "./upstream/fakecrm/cmd/fakecrm") }

// startFake runs the fake central CRM as a process and returns its URL.
func startFake(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(fakecrmBinary(t), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	m := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(line)
	if err != nil || m == nil {
		t.Fatalf("fakecrm first line %q: %v", line, err)
	}
	return m[1]
}

func mustCall(t testing.TB, want int, method, url, token, body string, headers ...string) string {
	t.Helper()
	st, b, _ := call(t, method, url, token, body, headers...)
	if st != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, url, st, want, b)
	}
	return b
}

type syncJSON struct {
	Online        bool    `json:"online"`
	Pending       int64   `json:"pending"`
	Dead          int64   `json:"dead"`
	LastSuccessAt *int64  `json:"last_success_at"`
	LastError     *string `json:"last_error"`
}

func syncStatus(t testing.TB, p *process) syncJSON {
	t.Helper()
	var s syncJSON
	if err := json.Unmarshal([]byte(mustCall(t, 200, "GET", p.URL+"/admin/v1/sync", p.Token, "")), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func waitSync(t testing.TB, p *process, what string, cond func(syncJSON) bool) syncJSON {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := syncStatus(t, p)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %+v\n%s", what, s, p.Stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type outboxEvent struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	State string `json:"state"`
}

func outbox(t testing.TB, p *process) []outboxEvent {
	t.Helper()
	var out struct {
		Events []outboxEvent `json:"events"`
	}
	if err := json.Unmarshal([]byte(mustCall(t, 200, "GET", p.URL+"/admin/v1/outbox?state=all&limit=10000", p.Token, "")), &out); err != nil {
		t.Fatal(err)
	}
	return out.Events
}

func fakeRequests(t testing.TB, fakeURL, which string) []fakecrm.Request {
	t.Helper()
	var out []fakecrm.Request
	if err := json.Unmarshal([]byte(mustCall(t, 200, "GET", fakeURL+"/_fake/"+which, "", "")), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// loadCatalog loads product TIVI01 (100 points), codes K0…K(n-1) and gift
// DAUMAY01 (10 points) through the admin API.
func loadCatalog(t testing.TB, p *process, n int) {
	t.Helper()
	mustCall(t, 200, "PUT", p.URL+"/admin/v1/products", p.Token, `[{"code":"TIVI01","name":"TV","score":100}]`)
	codes := make([]string, n)
	for i := range codes {
		codes[i] = fmt.Sprintf(`{"code":"K%d","product_code":"TIVI01","serial":"s%d"}`, i, i)
	}
	mustCall(t, 200, "PUT", p.URL+"/admin/v1/codes", p.Token, "["+strings.Join(codes, ",")+"]")
	mustCall(t, 200, "PUT", p.URL+"/admin/v1/gifts", p.Token, `[{"code":"DAUMAY01","name":"Dau may","score":10}]`)
}

func e2ePhone(i int) string { return fmt.Sprintf("0912%06d", i) }

func accumulateJSON(code, phone string) string {
	return `{"code":"` + code + `","data":{"name":"N","phones":[{"type":"Work","value":"` + phone + `"}],"emails":[]}}`
}

// checkExactlyOnce asserts that the fake applied each of the edge's events
// exactly once, and nothing else.
func checkExactlyOnce(t testing.TB, p *process, fakeURL string) {
	t.Helper()
	evs := outbox(t, p)
	applied := map[string]int{}
	for _, r := range fakeRequests(t, fakeURL, "applied") {
		applied[r.IdempotencyKey]++
	}
	for _, ev := range evs {
		if ev.State != "delivered" {
			t.Errorf("event %s (%s) is %s", ev.ID, ev.Kind, ev.State)
		}
		if applied[ev.ID] != 1 {
			t.Errorf("event %s (%s) applied %d times upstream", ev.ID, ev.Kind, applied[ev.ID])
		}
	}
	if len(applied) != len(evs) {
		t.Errorf("the central applied %d writes for %d events", len(applied), len(evs))
	}
}

func TestE2EUpstreamDownThenBack(t *testing.T) {
	t.Parallel()
	fake := startFake(t, "--token", "central-secret", "--accept-unknown-codes")
	mustCall(t, 200, "POST", fake+"/_fake/faults", "", `{"down":true,"reject_codes":{"K9":422}}`)
	dir := t.TempDir()
	p := startServe(t, dir, "--upstream", fake, "--upstream-token", "central-secret", "--upstream-max-backoff", "1s")
	loadCatalog(t, p, 20)

	// The line is down: every write is still answered, from the local file.
	var took []time.Duration
	for i := range 10 {
		for _, w := range []struct{ method, path, body string }{
			{"POST", "/customers_location?pos_id=shop1", `{"phone":"` + e2ePhone(i) + `","name":"A"}`},
			{"POST", "/accumulate", accumulateJSON(fmt.Sprintf("K%d", i), e2ePhone(i))},
			{"PUT", "/customers_location?pos_id=shop1", `{"phone":"` + e2ePhone(i) + `","name":"B"}`},
		} {
			start := time.Now()
			mustCall(t, 200, w.method, p.URL+w.path, p.Token, w.body)
			took = append(took, time.Since(start))
		}
	}
	slices.Sort(took)
	t.Logf("writes while the upstream was down: median %s, slowest %s", took[len(took)/2], took[len(took)-1])
	if took[len(took)/2] > 500*time.Millisecond {
		t.Errorf("writes took %s (median) while the upstream was down", took[len(took)/2])
	}
	s := waitSync(t, p, "offline", func(s syncJSON) bool { return !s.Online && s.LastError != nil })
	if s.Pending != 30 {
		t.Errorf("pending %d while down, want 30", s.Pending)
	}
	// The line comes back: the backlog drains, each event applied once.
	mustCall(t, 200, "POST", fake+"/_fake/faults", "", `{"down":false}`)
	s = waitSync(t, p, "drained", func(s syncJSON) bool { return s.Pending == 0 })
	if !s.Online || s.Dead != 1 {
		t.Errorf("sync after the backlog drained: %+v", s)
	}
	// The one write the central refused is a dead letter; once the central
	// is fixed, the CLI retries it.
	dead := runCLI(t, dir, "outbox", "list", "--dead")
	if lines := strings.Split(strings.TrimSpace(dead), "\n"); len(lines) != 1 || !strings.Contains(dead, `"kind":"accumulate"`) ||
		!strings.Contains(dead, `"last_status":422`) || !strings.Contains(dead, "rejected by central") {
		t.Errorf("outbox list --dead:\n%s", dead)
	}
	if bal := mustCall(t, 200, "GET", p.URL+"/balance?phone="+e2ePhone(9), p.Token, ""); !strings.Contains(bal, `"balance":0`) {
		t.Errorf("balance after the rejected accumulate: %s", bal)
	}
	mustCall(t, 200, "POST", fake+"/_fake/faults", "", `{"reject_codes":{"K9":0}}`)
	if out := runCLI(t, dir, "outbox", "retry", "--all-dead"); !strings.Contains(out, "requeued 1 events") {
		t.Errorf("outbox retry --all-dead: %s", out)
	}
	s = waitSync(t, p, "the dead letter delivered", func(s syncJSON) bool { return s.Pending == 0 && s.Dead == 0 })
	if !s.Online || s.LastError != nil {
		t.Errorf("sync after the retry: %+v", s)
	}
	if bal := mustCall(t, 200, "GET", p.URL+"/balance?phone="+e2ePhone(9), p.Token, ""); !strings.Contains(bal, `"balance":100`) {
		t.Errorf("balance after the retried accumulate was delivered: %s", bal)
	}
	checkExactlyOnce(t, p, fake)
	if n := len(outbox(t, p)); n != 30 {
		t.Errorf("%d events, want 30", n)
	}
	metrics := mustCall(t, 200, "GET", p.URL+"/metrics", "", "")
	for _, want := range []string{`crmedge_upstream_forward_total{result="delivered"} 30`, `crmedge_upstream_forward_total{result="dead"} 1`, `crmedge_outbox_pending 0`, `crmedge_upstream_online 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	p.Stop()
	logs := p.Stderr()
	if !strings.Contains(logs, "upstream unreachable") || !strings.Contains(logs, "upstream reachable again") {
		t.Errorf("the log does not tell the line went down and came back:\n%s", logs)
	}
	for _, secret := range []string{"central-secret", p.Token, "912000001", "0912000003"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a secret or a phone number %q", secret)
		}
	}
}

func TestE2ECrashUnderLoad(t *testing.T) {
	t.Parallel()
	fake := startFake(t, "--accept-unknown-codes")
	mustCall(t, 200, "POST", fake+"/_fake/faults", "", `{"latency_ms":5}`)
	dir := t.TempDir()
	args := []string{"--upstream", fake, "--upstream-max-backoff", "1s"}
	p := startServe(t, dir, args...)
	loadCatalog(t, p, 6000)

	// Writers hammer the edge; every answered write is noted.
	type answered struct{ phone, entry string }
	var mu sync.Mutex
	var got []answered
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 6 {
		wg.Go(func() {
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n := w*1000 + i
				path, body := "/customers_location?pos_id=shop1", `{"phone":"`+e2ePhone(n)+`","name":"A"}`
				if i%2 == 1 {
					path, body = "/accumulate", accumulateJSON(fmt.Sprintf("K%d", n), e2ePhone(n-1))
				}
				st, b, _, err := tryHTTP(client, "POST", p.URL+path, p.Token, body)
				if err != nil {
					return // the edge was killed
				}
				if st != 200 {
					continue
				}
				var a struct {
					ID string `json:"id"`
				}
				_ = json.Unmarshal([]byte(b), &a)
				mu.Lock()
				if i%2 == 1 {
					got = append(got, answered{entry: a.ID})
				} else {
					got = append(got, answered{phone: e2ePhone(n)})
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	p.Kill() // kill -9, mid-write and mid-forward
	close(stop)
	wg.Wait()
	if len(got) < 20 {
		t.Fatalf("only %d writes were answered before the kill", len(got))
	}

	db, err := sqlstore.Open(context.Background(), filepath.Join(dir, "crmedge.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if problems, err := db.IntegrityCheck(context.Background()); err != nil || len(problems) > 0 {
		t.Errorf("after kill -9: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	p2 := startServe(t, dir, args...)
	p2.Token = p.Token
	waitSync(t, p2, "drained after the restart", func(s syncJSON) bool { return s.Pending == 0 })
	checkExactlyOnce(t, p2, fake)

	// Every answered write is here and reached the central under one key.
	keysByWrite := map[string]map[string]bool{}
	note := func(write, key string) {
		if keysByWrite[write] == nil {
			keysByWrite[write] = map[string]bool{}
		}
		keysByWrite[write][key] = true
	}
	appliedByWrite := map[string]int{}
	for _, r := range fakeRequests(t, fake, "received") {
		var b struct {
			Phone string `json:"phone"`
			ID    string `json:"id"`
		}
		_ = json.Unmarshal(r.Body, &b)
		write := b.Phone + b.ID
		note(write, r.IdempotencyKey)
		if r.Applied {
			appliedByWrite[write]++
		}
	}
	for _, a := range got {
		write := a.phone + a.entry
		if a.phone != "" {
			mustCall(t, 200, "GET", p2.URL+"/customers_location?pos_id=shop1&phone="+a.phone, p.Token, "")
		}
		if appliedByWrite[write] != 1 || len(keysByWrite[write]) != 1 {
			t.Errorf("answered write %q: applied %d times upstream under keys %v", write, appliedByWrite[write], keysByWrite[write])
		}
	}
	t.Logf("%d writes answered before kill -9; %d events forwarded after the restart", len(got), len(outbox(t, p2)))
	p2.Stop()
}

func TestE2ETwoEdgesOneHub(t *testing.T) {
	t.Parallel()
	hubDir := t.TempDir()
	hub := startServe(t, hubDir)
	edgeToken := strings.TrimSpace(runCLI(t, hubDir, "token", "create", "--name", "edges"))
	loadCatalog(t, hub, 10)
	var edges []*process
	for range 2 {
		e := startServe(t, t.TempDir(), "--upstream", hub.URL, "--upstream-token", edgeToken)
		loadCatalog(t, e, 10)
		edges = append(edges, e)
	}
	a, b := e2ePhone(1), e2ePhone(2)
	idA := mustCall(t, 200, "POST", edges[0].URL+"/customers_location?pos_id=shop1", edges[0].Token, `{"phone":"`+a+`","name":"An"}`)
	mustCall(t, 200, "POST", edges[0].URL+"/accumulate", edges[0].Token, accumulateJSON("K1", a))
	idB := mustCall(t, 200, "POST", edges[1].URL+"/customers_location?pos_id=shop2", edges[1].Token, `{"phone":"`+b+`","name":"Binh"}`)
	mustCall(t, 200, "POST", edges[1].URL+"/accumulate", edges[1].Token, accumulateJSON("K2", b))
	waitSync(t, edges[0], "edge 1 drained", func(s syncJSON) bool { return s.Pending == 0 })

	// A's member record and points, written at edge 1, reach edge 2 through
	// the hub (read-through), and A redeems there.
	m := mustCall(t, 200, "GET", edges[1].URL+"/customers_location?pos_id=shop1&phone="+a, edges[1].Token, "")
	if !strings.Contains(m, `"name":"An"`) {
		t.Errorf("read-through from the hub at edge 2: %s", m)
	}
	mustCall(t, 200, "POST", edges[1].URL+"/redeem", edges[1].Token, `{"code":"DAUMAY01","data":{"phone":"`+a+`"}}`)
	for i, e := range edges {
		s := waitSync(t, e, fmt.Sprintf("edge %d drained", i+1), func(s syncJSON) bool { return s.Pending == 0 })
		if s.Dead != 0 || !s.Online {
			t.Errorf("edge %d: %+v", i+1, s)
		}
	}
	for _, c := range []struct{ phone, pos, created string }{{a, "shop1", idA}, {b, "shop2", idB}} {
		var created struct {
			Data struct {
				ID string `json:"_id"`
			} `json:"data"`
		}
		_ = json.Unmarshal([]byte(c.created), &created)
		got := mustCall(t, 200, "GET", hub.URL+"/customers_location?pos_id="+c.pos+"&phone="+c.phone, hub.Token, "")
		if !strings.Contains(got, `"_id":"`+created.Data.ID+`"`) {
			t.Errorf("hub member %s lacks the edge's _id %s: %s", c.phone, created.Data.ID, got)
		}
	}
	for phone, want := range map[string]string{a: `"balance":90`, b: `"balance":100`} {
		if got := mustCall(t, 200, "GET", hub.URL+"/balance?phone="+phone, hub.Token, ""); !strings.Contains(got, want) {
			t.Errorf("hub balance of %s: %s, want %s", phone, got, want)
		}
	}

	// The hub keeps applied Idempotency-Keys in its file: a write sent again
	// after a restart is answered from the stored result, not applied twice.
	body := accumulateJSON("K5", b)
	st1, first, _ := call(t, "POST", hub.URL+"/accumulate", edgeToken, body, "Idempotency-Key", "durable-key-1")
	hub.Stop()
	hub2 := startServe(t, hubDir)
	st2, again, hd := call(t, "POST", hub2.URL+"/accumulate", edgeToken, body, "Idempotency-Key", "durable-key-1")
	if st1 != 200 || st2 != 200 || first != again || hd.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay after a hub restart: %d %s / %d %s %v", st1, first, st2, again, hd)
	}
	if got := mustCall(t, 200, "GET", hub2.URL+"/balance?phone="+b, hub.Token, ""); !strings.Contains(got, `"balance":200`) {
		t.Errorf("hub balance after the replay: %s, want 200", got)
	}
	hub2.Stop()
	for _, e := range edges {
		e.Stop()
	}
}

// TestE2EOutboxKeep: the time of the last delivery survives a restart (it is
// read from the outbox), and `--outbox-keep` deletes delivered writes once
// they are older than it, at start.
func TestE2EOutboxKeep(t *testing.T) {
	t.Parallel()
	fake := startFake(t, "--token", "central-secret")
	dir := t.TempDir()
	args := []string{"--upstream", fake, "--upstream-token", "central-secret"}
	p := startServe(t, dir, args...)
	mustCall(t, 200, "POST", p.URL+"/customers_location?pos_id=shop1", p.Token, `{"phone":"0912000001","name":"A"}`)
	delivered := waitSync(t, p, "the member delivered", func(s syncJSON) bool { return s.Pending == 0 && s.LastSuccessAt != nil })
	p.Stop()

	p2 := startServe(t, dir, args...)
	p2.Token = p.Token
	if s := syncStatus(t, p2); s.LastSuccessAt == nil || *s.LastSuccessAt != *delivered.LastSuccessAt {
		t.Errorf("after a restart: last_success_at %v, want %d (the delivery before it)", s.LastSuccessAt, *delivered.LastSuccessAt)
	}
	if evs := outbox(t, p2); len(evs) != 1 || evs[0].State != "delivered" {
		t.Errorf("outbox after a restart with the default keep: %+v, want the one delivered write", evs)
	}
	p2.Stop()

	time.Sleep(10 * time.Millisecond)
	p3 := startServe(t, dir, append(args, "--outbox-keep", "5ms")...)
	p3.Token = p.Token
	deadline := time.Now().Add(10 * time.Second)
	for len(outbox(t, p3)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("--outbox-keep 5ms: the delivered write is still listed\n%s", p3.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := syncStatus(t, p3); s.LastSuccessAt != nil || s.Pending != 0 {
		t.Errorf("after the delivered write was pruned: %+v, want no last_success_at and nothing pending", s)
	}
	if !strings.Contains(p3.Stderr(), "outbox retention") {
		t.Errorf("no retention line in the log:\n%s", p3.Stderr())
	}
}
