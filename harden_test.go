package main

// End-to-end hardening tests against the real binary: a damaged or newer
// database is refused, TLS, backup and restore while serving, and a mixed
// scenario that is killed with kill -9 and must come back with every
// acknowledged write, a sound file and a log free of secrets.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"crmedge/sqlstore"
)

// runCLIFail runs a crmedge command that must fail, and returns its stderr.
func runCLIFail(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(crmedgeBinary(t), args...)
	cmd.Dir = dir
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Fatalf("crmedge %v: %v, want a failure\nstdout: %s\nstderr: %s", args, err, stdout.String(), stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("crmedge %v did not stop in 30s (it should refuse at once)\n%s", args, stderr.String())
	}
	if strings.Contains(stdout.String(), "serving on") {
		t.Errorf("crmedge %v said it was serving:\n%s", args, stdout.String())
	}
	return stderr.String()
}

func fileSHA256(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// counts parses `crmedge check` output.
func checkCounts(t testing.TB, out string) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				m[f[0]] = n
			}
		}
	}
	if !strings.Contains(out, "integrity_check ok") {
		t.Fatalf("crmedge check did not find the file sound:\n%s", out)
	}
	return m
}

func TestServeRefusesDamagedDatabase(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		damage func(f *os.File)
	}{
		{"header overwritten", func(f *os.File) { _, _ = f.WriteAt([]byte("this is not an SQLite file"), 0) }},
		{"pages overwritten", func(f *os.File) {
			junk := bytes.Repeat([]byte{0xA5, 0x5A, 0x00, 0xFF}, 4096)
			_, _ = f.WriteAt(junk, 4096*4)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			runCLI(t, dir, "token", "create", "--name", "x")
			db := filepath.Join(dir, "crmedge.db")
			f, err := os.OpenFile(db, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			c.damage(f)
			f.Close()
			stderr := runCLIFail(t, dir, "serve", "--addr", "127.0.0.1:0")
			for _, want := range []string{"damaged", "restore a backup"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("serve on a damaged file says %q, want it to mention %q", stderr, want)
				}
			}
			if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
				t.Errorf("a stack trace instead of a message:\n%s", stderr)
			}
			if out := runCLIFail(t, dir, "check"); !strings.Contains(out, "damaged") {
				t.Errorf("check on a damaged file: %s", out)
			}
		})
	}
}

func TestNewerSchemaIsRefusedNotMangled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	runCLI(t, dir, "token", "create", "--name", "x")
	db := filepath.Join(dir, "crmedge.db")
	if err := sqlstore.ForceSchemaVersion(db, 99); err != nil {
		t.Fatal(err)
	}
	before := fileSHA256(t, db)
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0"},
		{"migrate", "up"},
		{"token", "create", "--name", "y"},
		{"restore", "--from", "crmedge.db", "--db", "other.db"},
	} {
		stderr := runCLIFail(t, dir, args...)
		if !strings.Contains(stderr, "newer than this crmedge") {
			t.Errorf("crmedge %v on a newer database: %q", args, stderr)
		}
	}
	if fileSHA256(t, db) != before {
		t.Errorf("the newer database was changed")
	}
	if v := runCLI(t, dir, "migrate", "version"); !strings.Contains(v, "schema version 99") {
		t.Errorf("migrate version: %q", v)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns a
// pool trusting it.
func selfSignedCert(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "crmedge test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServeTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile, pool := selfSignedCert(t, dir)
	// Half a pair, or a pair that does not load, is refused before serving.
	if out := runCLIFail(t, dir, "serve", "--addr", "127.0.0.1:0", "--tls-cert", certFile); !strings.Contains(out, "go together") {
		t.Errorf("--tls-cert alone: %q", out)
	}
	if out := runCLIFail(t, dir, "serve", "--addr", "127.0.0.1:0", "--tls-cert", keyFile, "--tls-key", certFile); !strings.Contains(out, "tls") {
		t.Errorf("swapped cert and key: %q", out)
	}
	p := startServe(t, dir, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(p.URL, "https://") {
		t.Fatalf("serving on %s, want https", p.URL)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	st, body, _, err := tryHTTP(client, "POST", p.URL+"/customers_location?pos_id=shop1", p.Token, `{"phone":"0945350398","name":"TLS"}`)
	if err != nil || st != 200 {
		t.Fatalf("member over HTTPS: %d %s %v", st, body, err)
	}
	if st, body, _, err = tryHTTP(client, "GET", p.URL+"/balance?phone=0945350398", p.Token, ""); err != nil || st != 200 {
		t.Fatalf("balance over HTTPS: %d %s %v", st, body, err)
	}
	// Plain HTTP to the TLS port gets nothing useful.
	if st, body, _, err = tryHTTP(http.DefaultClient, "GET", "http://"+strings.TrimPrefix(p.URL, "https://")+"/balance?phone=0945350398", p.Token, ""); err == nil && st == 200 {
		t.Errorf("plain HTTP on the TLS port answered 200: %s", body)
	}
	// An old TLS version is refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if _, _, _, err := tryHTTP(old, "GET", p.URL+"/healthz", "", ""); err == nil {
		t.Errorf("TLS 1.1 was accepted")
	}
	p.Stop()
}

func TestBackupWhileServingAndRestore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startServe(t, dir)
	const before = 30
	for i := range before {
		if st, body := request(t, "POST", p.URL+"/customers_location?pos_id=shop1", p.Token,
			fmt.Sprintf(`{"phone":"09120%05d","name":"Before %d"}`, i, i)); st != 200 {
			t.Fatalf("member %d: %d %s", i, st, body)
		}
	}
	// Writers keep going while the backup runs.
	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				st, _, _, err := tryHTTP(http.DefaultClient, "POST", p.URL+"/customers_location?pos_id=shop1", p.Token,
					fmt.Sprintf(`{"phone":"0913%d%05d","name":"During"}`, w, i))
				if err == nil && st == 200 {
					acked.Add(1)
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	runCLI(t, dir, "backup", "--to", "backup.db")
	close(stop)
	wg.Wait()
	if acked.Load() == 0 {
		t.Fatalf("no write went through during the backup")
	}
	// The copy opens, is sound, and is one consistent moment: every customer
	// has its phone and its membership.
	c := checkCounts(t, runCLI(t, dir, "check", "--db", "backup.db"))
	if c["customers"] < before || c["customers"] > before+acked.Load()+3 {
		t.Errorf("backup holds %d customers; %d were written before it and %d during", c["customers"], before, acked.Load())
	}
	if c["customer_phones"] != c["customers"] || c["memberships"] != c["customers"] {
		t.Errorf("backup is not one consistent moment: %v", c)
	}
	if c["tokens"] != 1 {
		t.Errorf("backup tokens: %d", c["tokens"])
	}
	// A backup over an existing file is refused.
	if out := runCLIFail(t, dir, "backup", "--to", "backup.db"); !strings.Contains(out, "exists") {
		t.Errorf("backup over an existing file: %q", out)
	}
	// A member written after the backup is gone after a restore.
	request(t, "POST", p.URL+"/customers_location?pos_id=shop1", p.Token, `{"phone":"0987654321","name":"After"}`)
	if out := runCLIFail(t, dir, "restore", "--from", "backup.db"); !strings.Contains(out, "in use") {
		t.Errorf("restore while serving: %q", out)
	}
	p.Stop()
	out := runCLI(t, dir, "restore", "--from", "backup.db")
	m := regexp.MustCompile(`kept the replaced database as (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("restore output: %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, m[1])); err != nil {
		t.Errorf("the replaced database was not kept: %v", err)
	}
	p2 := startServe(t, dir)
	if st, body := request(t, "GET", p2.URL+"/customers_location?phone=0912000007&pos_id=shop1", p.Token, ""); st != 200 {
		t.Errorf("a member from before the backup, after restore: %d %s", st, body)
	}
	if st, _ := request(t, "GET", p2.URL+"/customers_location?phone=0987654321&pos_id=shop1", p.Token, ""); st != 404 {
		t.Errorf("a member from after the backup survived the restore: %d", st)
	}
	p2.Stop()
	if c2 := checkCounts(t, runCLI(t, dir, "check")); c2["customers"] != c["customers"] {
		t.Errorf("restored database has %d customers, the backup %d", c2["customers"], c["customers"])
	}
}

// TestMixedScenarioKill9 runs every dialect against the binary (catalog
// imported with the CLI while serving), kills it with kill -9 under
// concurrent writes, restarts it, and checks integrity, that every
// acknowledged write is there, and that the JSON log holds no token, phone
// number or email.
func TestMixedScenarioKill9(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startServe(t, dir, "--log-format", "json")
	admin := p.Token
	till := strings.TrimSpace(runCLI(t, dir, "token", "create", "--name", "till1", "--pos", "shop1"))
	kiosk := strings.TrimSpace(runCLI(t, dir, "token", "create", "--name", "kiosk"))

	// Catalog through the CLI, while serving: CSV products and gifts, JSON codes.
	const nCodes = 400
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var codes strings.Builder
	codes.WriteString("[")
	for i := range nCodes {
		if i > 0 {
			codes.WriteString(",")
		}
		fmt.Fprintf(&codes, `{"code":"C%04d","product_code":"TIVI01","serial":"S%04d"}`, i, i)
	}
	codes.WriteString("]")
	runCLI(t, dir, "import", "products", write("products.csv", "code,name,score\nTIVI01,\"Tivi 42\"\"\",10\n"))
	runCLI(t, dir, "import", "codes", write("codes.json", codes.String()))
	runCLI(t, dir, "import", "gifts", write("gifts.csv", "code,name,score\nDAUMAY01,Gift,10\n"))

	base := p.URL
	must := func(token, method, path, body string, want int) string {
		t.Helper()
		st, b, _, err := tryHTTP(http.DefaultClient, method, base+path, token, body)
		if err != nil || st != want {
			t.Fatalf("%s %s: %d %v, want %d; %s", method, path, st, err, want, b)
		}
		return b
	}
	phones := []string{}
	emails := []string{}
	// Members, updates, types, profiles, accumulates, redeems, reads.
	must(admin, "POST", "/api/crm/type/create", `{"vbot_id":"v1","project_code":"p1","type_name":"VIP","type_no":"VIP"}`, 200)
	must(admin, "POST", "/api/crm/type/update", `{"vbot_id":"v1","project_code":"p1","type_name":"Very VIP","type_no":"VIP"}`, 200)
	for i := range 10 {
		phone, email := fmt.Sprintf("09450%05d", i), fmt.Sprintf("member%d@example.com", i)
		phones, emails = append(phones, phone), append(emails, email)
		must(till, "POST", "/customers_location?pos_id=shop1",
			fmt.Sprintf(`{"phone":"%s","email":"%s","name":"Member %d","type_no":"VIP"}`, phone, email, i), 200)
		must(till, "PUT", "/customers_location?pos_id=shop1", fmt.Sprintf(`{"phone":"+84%s","address":"Street %d"}`, phone[1:], i), 200)
		must(till, "POST", "/accumulate", fmt.Sprintf(`{"code":"C%04d","data":{"phones":[{"type":"mobile","value":"%s"}]}}`, i, phone), 200)
		must(till, "POST", "/redeem", fmt.Sprintf(`{"code":"DAUMAY01","data":{"phone":"%s"}}`, phone), 200)
		must(till, "GET", "/history-point?phone="+phone, "", 200)
		must(kiosk, "GET", "/balance?email="+email, "", 200)
	}
	must(admin, "POST", "/api/crm/type/updateNo", `{"vbot_id":"v1","project_code":"p1","type_no":"VIP","new_type_no":"VIP1"}`, 200)
	for i := range 5 {
		phone, email := fmt.Sprintf("09870%05d", i), fmt.Sprintf("profile%d@example.com", i)
		phones, emails = append(phones, phone), append(emails, email)
		b := must(kiosk, "POST", "/1.0/customer/create", fmt.Sprintf(`{"email":"%s","phone":"%s","full_name":"P %d"}`, email, phone, i), 201)
		var env struct {
			Data struct {
				ID string `json:"_id"`
			} `json:"data"`
		}
		_ = json.Unmarshal([]byte(b), &env)
		must(kiosk, "POST", "/1.0/customer/update", fmt.Sprintf(`{"_id":"%s","email":"%s","company":"Co %d"}`, env.Data.ID, email, i), 200)
		must(kiosk, "GET", "/1.0/customer/"+env.Data.ID, "", 200)
	}
	must(till, "GET", "/customers_location?phone=0945000000", "", 200)
	must(till, "GET", "/customers_location?phone=0945000000&pos_id=shop2", "", 403)
	must(kiosk, "GET", "/admin/v1/sync", "", 403)
	must("crm_wrong_token", "GET", "/balance?phone=0945000000", "", 401)
	must(admin, "GET", "/admin/v1/sync", "", 200)

	// Concurrent writes, then kill -9 in the middle of them.
	type ack struct{ phone, entry string }
	var mu sync.Mutex
	var acks []ack
	var attempted atomic.Int64
	var next atomic.Int64
	next.Store(100)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i >= nCodes {
					return
				}
				phone := fmt.Sprintf("09130%05d", i)
				attempted.Add(1)
				st, b, _, err := tryHTTP(http.DefaultClient, "POST", p.URL+"/accumulate", till,
					fmt.Sprintf(`{"code":"C%04d","data":{"name":"Kill %d","phones":[{"value":"%s"}]}}`, i, i, phone))
				if err != nil {
					return // the server is gone
				}
				if st != 200 {
					t.Errorf("accumulate %d: %d %s", i, st, b)
					return
				}
				var r struct {
					ID string `json:"id"`
				}
				_ = json.Unmarshal([]byte(b), &r)
				mu.Lock()
				acks = append(acks, ack{phone, r.ID})
				mu.Unlock()
			}
		}()
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		mu.Lock()
		n := len(acks)
		mu.Unlock()
		if n >= 60 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d accumulates acknowledged in 60s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.Kill()
	wg.Wait()
	logs := p.Stderr()

	// The file is sound before anything else opens it for writing.
	c := checkCounts(t, runCLI(t, dir, "check"))
	wantLedger := int64(20) + int64(len(acks)) // 10 accumulates and 10 redeems before, then the acked ones
	if c["ledger"] < wantLedger || c["ledger"] > 20+attempted.Load() {
		t.Errorf("ledger has %d entries: %d were acknowledged, %d attempted", c["ledger"], wantLedger, 20+attempted.Load())
	}
	if c["customers"] < int64(15+len(acks)) {
		t.Errorf("customers: %d, want at least %d", c["customers"], 15+len(acks))
	}
	if c["customer_types"] != 1 || c["tokens"] != 3 || c["codes"] != nCodes {
		t.Errorf("counts after kill -9: %v", c)
	}

	p2 := startServe(t, dir, "--log-format", "json")
	base = p2.URL
	for _, a := range acks {
		phones = append(phones, a.phone)
		b := must(till, "GET", "/history-point?phone="+a.phone, "", 200)
		if !strings.Contains(b, `"id":"`+a.entry+`"`) {
			t.Errorf("acknowledged accumulate %s for %s lost after kill -9: %s", a.entry, a.phone, b)
		}
	}
	for i := range 10 {
		b := must(admin, "GET", fmt.Sprintf("/balance?phone=09450%05d", i), "", 200)
		if !strings.Contains(b, `"balance":0`) { // 10 earned, 10 spent
			t.Errorf("member %d balance after restart: %s", i, b)
		}
	}
	st, metrics, _, err := tryHTTP(http.DefaultClient, "GET", p2.URL+"/metrics", "", "")
	if err != nil || st != 200 {
		t.Fatalf("metrics: %d %v", st, err)
	}
	m := regexp.MustCompile(`(?m)^crmedge_database_bytes (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		t.Errorf("no crmedge_database_bytes in /metrics")
	} else if v, _ := strconv.ParseFloat(m[1], 64); v < 4096 {
		t.Errorf("crmedge_database_bytes = %v", v)
	}
	for _, want := range []string{`crmedge_http_requests_total{method="GET",route="/history-point",status="200"}`,
		`crmedge_http_request_duration_seconds_bucket{method="GET",route="/history-point",status="200",le=`,
		"crmedge_outbox_pending 0", `crmedge_upstream_forward_total{result="dead"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	p2.Stop()
	logs += p2.Stderr()

	// Tokens are stored as hashes: the database holds no secret.
	dbBytes, err := os.ReadFile(filepath.Join(dir, "crmedge.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{admin, till, kiosk} {
		sum := sha256.Sum256([]byte(secret))
		if bytes.Contains(dbBytes, []byte(secret)) || bytes.Contains(dbBytes, []byte(secret[4:])) {
			t.Errorf("the database file holds a token secret")
		}
		if !bytes.Contains(dbBytes, []byte(hex.EncodeToString(sum[:]))) {
			t.Errorf("the database file lacks a token's SHA-256")
		}
	}

	// The log: JSON lines, request ids, and no secret or personal data.
	requests := 0
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			if strings.Contains(line, "WARNING: DATA RACE") {
				t.Errorf("race in the binary: %s", line)
			}
			continue
		}
		if rec["msg"] == "request" {
			requests++
			if id, _ := rec["request_id"].(string); id == "" {
				t.Errorf("request log line without request_id: %s", line)
			}
		}
	}
	if requests < 100 {
		t.Errorf("only %d request log lines", requests)
	}
	secrets := []string{admin, till, kiosk, admin[4:24], till[4:24], kiosk[4:24], "crm_wrong_token"}
	for _, ph := range phones {
		secrets = append(secrets, ph, "84"+ph[1:], ph[1:])
	}
	secrets = append(secrets, emails...)
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds %q", s)
		}
	}
}
