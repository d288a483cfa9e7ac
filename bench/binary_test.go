package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"crmedge/sqlstore"
)

// startupFixture is the ~1 GiB store the start-up time is measured on: the
// benchmark store with 3.7 million ledger entries instead of 1 million (the
// ledger takes ~250 bytes an entry with its indexes since schema 2).
var startupFixture = sqlstore.FixtureSpec{Customers: 100_000, Codes: 1_000_000, Ledger: 3_700_000, HeavyEntries: 10_000,
	Products: 10, Gifts: 5, PosID: "shop-1"}

var (
	servingRe = regexp.MustCompile(`crmedge serving on (https?://\S+)`)
	tokenRe   = regexp.MustCompile(`created admin token \(shown once, keep it\): (\S+)`)
)

// binaryFigures are measured once per run and reported by BenchmarkBinary.
type binaryFigures struct {
	binaryMiB      float64
	dbMiB          float64
	startupMedian  time.Duration
	startupMax     time.Duration
	idleRSS        float64 // MiB
	loadRSS        float64 // MiB, peak VmRSS while serving 32 connections
	loadRSSAnon    float64 // MiB, of which anonymous memory (the rest is mapped database pages)
	loadReqs       int64
	loadReqsPerSec float64
	startupSamples []time.Duration
}

var binaryOnce = sync.OnceValues(measureBinary)

// BenchmarkBinary builds crmedge as `make build` does and measures, as a
// process: the binary's size; the start-up time of `crmedge serve` on a ~1 GiB
// database (exec to the "crmedge serving on" line, median of 5); its resident
// memory idle, and at its peak under 32 connections of member GETs and
// accumulates.
func BenchmarkBinary(b *testing.B) {
	f, err := binaryOnce()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(f.binaryMiB, "binary_MiB")
	b.ReportMetric(f.dbMiB, "db_MiB")
	b.ReportMetric(float64(f.startupMedian.Microseconds())/1000, "startup_ms")
	b.ReportMetric(float64(f.startupMax.Microseconds())/1000, "startup_max_ms")
	b.ReportMetric(f.idleRSS, "idle_rss_MiB")
	b.ReportMetric(f.loadRSS, "load_rss_MiB")
	b.ReportMetric(f.loadRSSAnon, "load_rss_anon_MiB")
	b.ReportMetric(f.loadReqsPerSec, "load_req/s")
	b.ReportMetric(0, "ns/op")
	b.Logf("start-up samples: %v", f.startupSamples)
}

func measureBinary() (f binaryFigures, err error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "crmedge-bench-bin-")
	if err != nil {
		return f, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "crmedge")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "crmedge")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return f, fmt.Errorf("build crmedge: %v\n%s", err, out)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return f, err
	}
	f.binaryMiB = float64(fi.Size()) / (1 << 20)

	fixture, err := sqlstore.CachedFixture(ctx, os.TempDir(), startupFixture)
	if err != nil {
		return f, err
	}
	db := filepath.Join(dir, "crmedge.db")
	if err := sqlstore.CopyDB(fixture, db); err != nil {
		return f, err
	}
	if fi, err = os.Stat(db); err != nil {
		return f, err
	}
	f.dbMiB = float64(fi.Size()) / (1 << 20)

	// The first start mints the edge id and the admin token; it is not
	// counted. Then five timed starts, each stopped cleanly.
	var token string
	for i := range 6 {
		p, err := startBinary(bin, dir, db)
		if err != nil {
			return f, err
		}
		if i == 0 {
			token = p.token
		} else {
			f.startupSamples = append(f.startupSamples, p.startup)
		}
		if i < 5 {
			if err := p.stop(); err != nil {
				return f, err
			}
			continue
		}
		// The last one stays up for the memory figures.
		defer p.stop() //nolint:errcheck // measured already
		time.Sleep(time.Second)
		if f.idleRSS, _, err = rss(p.cmd.Process.Pid); err != nil {
			return f, err
		}
		if f.loadRSS, f.loadRSSAnon, f.loadReqs, f.loadReqsPerSec, err = loadBinary(p, token); err != nil {
			return f, err
		}
	}
	sorted := slices.Clone(f.startupSamples)
	slices.Sort(sorted)
	f.startupMedian, f.startupMax = sorted[len(sorted)/2], sorted[len(sorted)-1]
	return f, nil
}

type binaryProcess struct {
	cmd     *exec.Cmd
	addr    string
	token   string
	startup time.Duration
	done    chan error
	stderr  *bytes.Buffer
}

func startBinary(bin, dir, db string) (*binaryProcess, error) {
	cmd := exec.Command(bin, "serve", "--db", db, "--addr", "127.0.0.1:0", "--log-format", "json")
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &binaryProcess{cmd: cmd, done: make(chan error, 1), stderr: &bytes.Buffer{}}
	cmd.Stderr = &lockedWriter{w: p.stderr}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if m := tokenRe.FindStringSubmatch(line); m != nil {
				p.token = m[1]
			}
			if m := servingRe.FindStringSubmatch(line); m != nil {
				p.startup = time.Since(start)
				u, err := url.Parse(m[1])
				if err == nil {
					p.addr = u.Host
				}
				ready <- err
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { p.done <- cmd.Wait() }()
	select {
	case err := <-ready:
		return p, err
	case err := <-p.done:
		return nil, fmt.Errorf("crmedge exited before serving: %v\n%s", err, p.stderr)
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("crmedge did not start in 60 s")
	}
}

func (p *binaryProcess) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			return fmt.Errorf("crmedge exited with %v", err)
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("crmedge did not stop in 30 s")
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// rss reads a process's resident memory (VmRSS) and its anonymous part
// (RssAnon), in MiB.
func rss(pid int) (total, anon float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	field := func(name string) float64 {
		i := bytes.Index(b, []byte(name+":"))
		if i < 0 {
			return 0
		}
		rest := b[i+len(name)+1:]
		if j := bytes.IndexByte(rest, '\n'); j >= 0 {
			rest = rest[:j]
		}
		kb, _ := strconv.ParseFloat(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 64)
		return kb / 1024
	}
	return field("VmRSS"), field("RssAnon"), nil
}

// loadBinary drives the process with 32 connections (half member GETs, half
// accumulates) for 5 s, sampling its memory every 100 ms.
func loadBinary(p *binaryProcess, token string) (peak, peakAnon float64, n int64, perSec float64, err error) {
	e := &env{spec: startupFixture, addr: p.addr, token: token}
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if r, a, err := rss(p.cmd.Process.Pid); err == nil {
					peak, peakAnon = max(peak, r), max(peakAnon, a)
				}
			}
		}
	}()
	spec := e.spec
	free := int64(spec.Codes - spec.UsedCodes())
	deadline := time.Now().Add(5 * time.Second)
	var res result
	var elapsed time.Duration
	for time.Now().Before(deadline) && err == nil {
		res, err = e.load(32, 2000, func(w *worker, i int64) []byte {
			c := 2 + w.rng.IntN(spec.Customers-2)
			if i%2 == 0 {
				w.tmp = fmt.Appendf(w.tmp[:0], "/customers_location?phone=%s&pos_id=%s", spec.Phone(c), spec.PosID)
				w.buf = request(w.buf, "GET", string(w.tmp), token, nil)
				return w.buf
			}
			k := e.nextCode.Add(1)
			if k > free {
				panic("bench: free codes used up")
			}
			w.tmp = fmt.Appendf(w.tmp[:0], `{"code":%q,"data":{"name":"Customer %d","phones":[{"type":"mobile","value":%q}]}}`,
				spec.Code(spec.UsedCodes()+int(k)-1), c, spec.Phone(c))
			w.buf = request(w.buf, "POST", "/accumulate?pos_id="+spec.PosID, token, w.tmp)
			return w.buf
		})
		n += res.n
		elapsed += res.elapsed
	}
	perSec = float64(n) / elapsed.Seconds()
	close(stop)
	<-sampled
	return peak, peakAnon, n, perSec, err
}
