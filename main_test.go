package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"crmedge/edge"
	"crmedge/sqlstore"
)

// The end-to-end tests build the real binary once and run it as a process.

// builtBinary is one `go build` shared by every test of this run.
type builtBinary struct {
	once sync.Once
	path string
	err  error
}

var builtBinaries sync.Map // package path → *builtBinary

// goBuild builds a main package once per test run and returns the binary.
func goBuild(t testing.TB, pkg string, flags ...string) string {
	t.Helper()
	v, _ := builtBinaries.LoadOrStore(pkg, &builtBinary{})
	bb := v.(*builtBinary)
	bb.once.Do(func() {
		dir, err := os.MkdirTemp("", "crmedge-test-bin")
		if err != nil {
			bb.err = err
			return
		}
		bb.path = filepath.Join(dir, filepath.Base(filepath.Clean(pkg)))
		if pkg == "." {
			bb.path = filepath.Join(dir, "crmedge")
		}
		args := append(append([]string{"build"}, flags...), "-o", bb.path, pkg)
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			bb.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if bb.err != nil {
		t.Fatal(bb.err)
	}
	return bb.path
}

// crmedgeBinary is crmedge built with the race detector.
func crmedgeBinary(t testing.TB) string { return goBuild(t, ".", "-race") }

// process is a running crmedge serve.
type process struct {
	t      testing.TB
	cmd    *exec.Cmd
	URL    string
	Token  string // the admin token printed at first start, if any
	mu     sync.Mutex
	stderr strings.Builder
	done   chan struct{}
	err    error
}

var (
	servingRe = regexp.MustCompile(`crmedge serving on (https?://\S+)`)
	tokenRe   = regexp.MustCompile(`created admin token \(shown once, keep it\): (\S+)`)
)

// startServe runs `crmedge serve --addr 127.0.0.1:0 args...` in dir and
// waits until it listens.
func startServe(t testing.TB, dir string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(crmedgeBinary(t), append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GORACE=halt_on_error=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{t: t, cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.stderr.Write(b)
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			if m := tokenRe.FindStringSubmatch(line); m != nil {
				p.Token = m[1]
			}
			if m := servingRe.FindStringSubmatch(line); m != nil && !signalled {
				p.URL = m[1]
				signalled = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	select {
	case <-ready:
	case <-p.done:
		t.Fatalf("crmedge exited before serving: %v\n%s", p.err, p.Stderr())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("crmedge did not start in 30s\n%s", p.Stderr())
	}
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// Stderr is what the process logged so far.
func (p *process) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Stop sends SIGTERM and waits; it fails the test unless the exit is clean.
func (p *process) Stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		p.t.Fatalf("crmedge did not stop in 30s after SIGTERM")
	}
	if p.err != nil {
		p.t.Fatalf("crmedge exited with %v\n%s", p.err, p.Stderr())
	}
}

// Kill sends SIGKILL (kill -9) and waits.
func (p *process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// request sends one HTTP request with a bearer token and returns status and body.
func request(t testing.TB, method, url, token, body string) (int, string) {
	t.Helper()
	st, b, _ := call(t, method, url, token, body)
	return st, b
}

// call is request with optional headers (name, value, ...), returning the
// answer's headers too.
func call(t testing.TB, method, url, token, body string, headers ...string) (int, string, http.Header) {
	t.Helper()
	st, b, h, err := tryHTTP(http.DefaultClient, method, url, token, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return st, b, h
}

// tryHTTP is call without failing the test: for traffic that may meet a
// killed server.
func tryHTTP(client *http.Client, method, url, token, body string, headers ...string) (int, string, http.Header, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header, err
}

// runCLI runs a crmedge subcommand to completion and returns its stdout.
func runCLI(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(crmedgeBinary(t), args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("crmedge %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

func TestBinaryFoundationEndToEnd(t *testing.T) {
	dir := t.TempDir()
	// The binary copied alone into an empty folder creates its database.
	p := startServe(t, dir)
	if p.Token == "" {
		t.Fatalf("first start printed no admin token")
	}
	if st, _ := request(t, "GET", p.URL+"/healthz", "", ""); st != 200 {
		t.Fatalf("healthz: %d", st)
	}
	st, body := request(t, "POST", p.URL+"/customers_location?pos_id=shop1", p.Token,
		`{"name":"Ly Tu Quang Thang","phone":"0945350398","email":"phundk59uet@gmail.com","gender":"1","birthday":"05-30","year_birthday":"1996"}`)
	if st != 200 || !strings.Contains(body, `"status_code":200`) {
		t.Fatalf("create: %d %s", st, body)
	}
	for _, phone := range []string{"0945350398", "%2B84945350398"} {
		st, body = request(t, "GET", p.URL+"/customers_location?pos_id=shop1&phone="+phone, p.Token, "")
		if st != 200 || !strings.Contains(body, `"phone":"0945350398"`) {
			t.Fatalf("get %s: %d %s", phone, st, body)
		}
	}
	// A token created by the CLI while serving works at once; revoked, it stops.
	kiosk := strings.TrimSpace(runCLI(t, dir, "token", "create", "--name", "kiosk", "--pos", "shop1"))
	if !strings.HasPrefix(kiosk, "crm_") || strings.Contains(kiosk, "\n") {
		t.Fatalf("token create printed %q", kiosk)
	}
	if st, body = request(t, "GET", p.URL+"/customers_location?pos_id=shop1&phone=0945350398", kiosk, ""); st != 200 {
		t.Fatalf("kiosk token: %d %s", st, body)
	}
	if st, _ = request(t, "GET", p.URL+"/customers_location?pos_id=shop2&phone=0945350398", kiosk, ""); st != 403 {
		t.Fatalf("kiosk at another pos: %d, want 403", st)
	}
	if st, _ = request(t, "GET", p.URL+"/admin/v1/sync", kiosk, ""); st != 403 {
		t.Fatalf("kiosk on admin: %d, want 403", st)
	}
	runCLI(t, dir, "token", "revoke", "--name", "kiosk")
	if st, _ = request(t, "GET", p.URL+"/customers_location?pos_id=shop1&phone=0945350398", kiosk, ""); st != 401 {
		t.Fatalf("revoked token: %d, want 401", st)
	}
	list := runCLI(t, dir, "token", "list")
	if !strings.Contains(list, "kiosk") || strings.Contains(list, kiosk) || strings.Contains(list, p.Token) {
		t.Fatalf("token list must name tokens and never show secrets:\n%s", list)
	}
	p.Stop()
	logs := p.Stderr()
	if !strings.Contains(logs, "stopped cleanly") {
		t.Errorf("no clean stop in the log:\n%s", logs)
	}
	for _, secret := range []string{p.Token, kiosk, "0945350398", "84945350398"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a secret or a full phone number %q", secret)
		}
	}
	// Restarted, it keeps the data and prints no new token.
	p2 := startServe(t, dir)
	if p2.Token != "" {
		t.Errorf("second start printed a new admin token")
	}
	if st, body = request(t, "GET", p2.URL+"/customers_location?pos_id=shop1&phone=0945350398", p.Token, ""); st != 200 {
		t.Fatalf("after restart: %d %s", st, body)
	}
	p2.Stop()
	if v := runCLI(t, dir, "migrate", "version"); !strings.Contains(v, "schema version 3") {
		t.Errorf("migrate version: %q", v)
	}
}

func TestCLIEnvAndHelp(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(crmedgeBinary(t), "token", "create", "--name", "envtest")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CRMEDGE_DB=fromenv.db")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("token create with CRMEDGE_DB: %v %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "fromenv.db")); err != nil {
		t.Fatalf("CRMEDGE_DB was not used: %v", err)
	}
	for _, args := range [][]string{{"help"}, {"serve", "--help"}, {"token", "--help"}} {
		out, err := exec.Command(crmedgeBinary(t), args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "usage") {
			t.Errorf("crmedge %v: %v %s", args, err, out)
		}
	}
	if err := exec.Command(crmedgeBinary(t), "nosuch").Run(); err == nil {
		t.Errorf("an unknown command must fail")
	}
	// The binary's exit status is run's (TestCLIUsageErrors has the cases).
	cmd = exec.Command(crmedgeBinary(t), "check", "other.db")
	cmd.Dir = dir
	var ee *exec.ExitError
	if out, err := cmd.CombinedOutput(); !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "takes no arguments") {
		t.Errorf("crmedge check other.db: %v %s, want exit status 2", err, out)
	}
}

// TestTokenPosRepeatable: each --pos is one pos_id, taken as given (commas
// and quotes included).
func TestTokenPosRepeatable(t *testing.T) {
	dir := t.TempDir()
	runCLI(t, dir, "token", "create", "--name", "two", "--pos", "shop1", "--pos", "shop2")
	runCLI(t, dir, "token", "create", "--name", "odd", "--pos", `shop "3",annex`)
	db, err := sqlstore.Open(context.Background(), filepath.Join(dir, "crmedge.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tokens, err := edge.NewService(edge.Config{Store: db}).Tokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"two": {"shop1", "shop2"}, "odd": {`shop "3",annex`}}
	for _, tok := range tokens {
		if !slices.Equal(tok.PosIDs, want[tok.Name]) {
			t.Errorf("token %s: pos %q, want %q", tok.Name, tok.PosIDs, want[tok.Name])
		}
		delete(want, tok.Name)
	}
	if len(want) > 0 {
		t.Errorf("tokens missing: %v", want)
	}
}

// TestCLIUsageErrors: a command line a command cannot run exits 2 with the
// reason and the command's usage on stderr, and touches nothing; help exits 0.
func TestCLIUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args   []string
		status int
		stderr []string // fragments of stderr
	}{
		{nil, 2, []string{"usage: crmedge <command>", "  check"}},
		{[]string{"help"}, 0, nil},
		{[]string{"check", "--help"}, 0, []string{"usage: crmedge check [flags]"}},
		{[]string{"nosuch"}, 2, []string{`unknown command "nosuch"`, "usage: crmedge <command>"}},
		{[]string{"check", "other.db"}, 2, []string{`crmedge check: takes no arguments, got "other.db"`, "usage: crmedge check [flags]"}},
		{[]string{"serve", "--addr", "127.0.0.1:0", "now"}, 2, []string{`crmedge serve: takes no arguments, got "now"`}},
		{[]string{"backup", "--to", "b.db", "extra", "args"}, 2, []string{`crmedge backup: takes no arguments, got "extra args"`}},
		{[]string{"restore", "--", "b.db"}, 2, []string{`takes no arguments, got "b.db"`}},
		{[]string{"version", "2"}, 2, []string{`crmedge version: takes no arguments`}},
		{[]string{"migrate"}, 2, []string{"crmedge migrate: missing up|down|version", "usage: crmedge migrate up|down|version [flags]"}},
		{[]string{"migrate", "sideways"}, 2, []string{`"sideways" is not one of up, down or version`}},
		{[]string{"migrate", "up", "now"}, 2, []string{`unexpected argument "now"`}},
		{[]string{"token", "rotate"}, 2, []string{`"rotate" is not one of create, list or revoke`}},
		{[]string{"token", "create"}, 2, []string{"create needs --name N"}},
		{[]string{"token", "revoke"}, 2, []string{"revoke needs --name N"}},
		{[]string{"import", "toys", "f.csv"}, 2, []string{"products, codes or gifts"}},
		{[]string{"import", "codes"}, 2, []string{"crmedge import: missing FILE"}},
		{[]string{"outbox"}, 2, []string{"missing list|retry"}},
		{[]string{"outbox", "purge"}, 2, []string{`"purge" is not one of list or retry`}},
		{[]string{"backup"}, 2, []string{"--to FILE is required", "usage: crmedge backup [flags]"}},
		{[]string{"restore"}, 2, []string{"--from FILE is required"}},
		{[]string{"serve", "--log-format", "xml"}, 2, []string{"--log-format must be text or json"}},
		{[]string{"serve", "--tls-cert", "c.pem"}, 2, []string{"go together"}},
		{[]string{"serve", "--nosuch"}, 2, []string{"crmedge serve: unknown flag: --nosuch", "usage: crmedge serve [flags]"}},
		{[]string{"serve", "--addr"}, 2, []string{"flag needs an argument"}},
	} {
		dir := t.TempDir()
		args := c.args
		if len(args) > 0 && args[0] != "help" && args[0] != "nosuch" {
			args = slices.Concat(args[:1], []string{"--db", filepath.Join(dir, "crmedge.db")}, args[1:])
		}
		var stdout, stderr strings.Builder
		status := run(args, &stdout, &stderr)
		if status != c.status {
			t.Errorf("crmedge %q: exit status %d, want %d\nstderr: %s", c.args, status, c.status, stderr.String())
		}
		for _, f := range c.stderr {
			if !strings.Contains(stderr.String(), f) {
				t.Errorf("crmedge %q: stderr lacks %q:\n%s", c.args, f, stderr.String())
			}
		}
		if c.status == 2 && stdout.Len() > 0 {
			t.Errorf("crmedge %q: a usage error wrote to stdout: %s", c.args, stdout.String())
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Errorf("crmedge %q: left %s behind", c.args, entries[0].Name())
		}
	}
	t.Setenv("CRMEDGE_UPSTREAM_CONCURRENCY", "many")
	var stderr strings.Builder
	if status := run([]string{"serve", "--db", filepath.Join(t.TempDir(), "crmedge.db")}, io.Discard, &stderr); status != 2 ||
		!strings.Contains(stderr.String(), "crmedge serve: CRMEDGE_UPSTREAM_CONCURRENCY") {
		t.Errorf("a bad flag in the environment: exit status %d, %s", status, stderr.String())
	}
	var stdout strings.Builder
	if run([]string{"help"}, &stdout, io.Discard) != 0 || !strings.Contains(stdout.String(), "usage: crmedge <command>") {
		t.Errorf("crmedge help: want the usage on stdout, got %q", stdout.String())
	}
}
