// Command crmedge serves the CRM member, loyalty, customer-type and profile
// APIs to a shop's tills from a local SQLite file, and forwards every write to
// the central CRM when the internet is up. This file only wires the packages
// together behind pflag subcommands.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"crmedge/edge"
	"crmedge/sqlstore"
	"crmedge/upstream"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	// args is the synopsis of the positional arguments, which run enforces
	// (see checkArgs): empty for none; a first word with | lists the accepted
	// first arguments; a word in [brackets] is optional, one ending in ...
	// may repeat.
	name, args, help string
	run              func(ctx context.Context, fs *pflag.FlagSet, args []string, out io.Writer) error
	flags            func(fs *pflag.FlagSet)
}

func commands() []command {
	return []command{
		{"serve", "", "serve the APIs (creates and migrates --db first)", runServe, serveFlags},
		{"migrate", "up|down|version", "change or show the database schema version", runMigrate, nil},
		{"token", "create|list|revoke", "manage API tokens (create: --name N [--pos P]... [--admin]; revoke: --name N)", runToken, tokenFlags},
		{"import", "products|codes|gifts FILE", "load catalog rows from CSV (with a header) or a JSON array", runImport, nil},
		{"backup", "", "write a consistent copy of the database to --to while serving goes on", runBackup, func(fs *pflag.FlagSet) {
			fs.String("to", "", "the backup file to write (must not exist)")
		}},
		{"restore", "", "replace --db with a backup written by `backup` (--from FILE); stop serve first", runRestore, func(fs *pflag.FlagSet) {
			fs.String("from", "", "the backup file to restore")
		}},
		{"check", "", "verify --db read-only (PRAGMA integrity_check, schema version) and count its rows; safe while serving", runCheck, nil},
		{"outbox", "list|retry [ID]", "list forwarded writes (--state pending|dead|delivered|all) or retry dead letters (ID or --all-dead)", runOutbox, func(fs *pflag.FlagSet) {
			fs.String("state", "pending", "list: pending, dead, delivered or all")
			fs.Bool("dead", false, "list: shorthand for --state dead")
			fs.Int("limit", 100, "list: at most this many")
			fs.Bool("all-dead", false, "retry: every dead letter")
		}},
		{"version", "", "print the version", func(_ context.Context, _ *pflag.FlagSet, _ []string, out io.Writer) error {
			_, err := fmt.Fprintln(out, "crmedge", version)
			return err
		}, nil},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs one command line and returns the exit status: 0 done, 1 the
// command failed, 2 the command line is wrong (a usage message on stderr).
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.execute(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "crmedge: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// execute runs c with its command line (after the command's name) and
// returns the exit status.
func (c command) execute(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("db", "crmedge.db", "the SQLite database file")
	if c.flags != nil {
		c.flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n\n%s\n\nflags (each also from the environment as CRMEDGE_<FLAG>):\n%s",
			c.synopsis(), c.help, fs.FlagUsages())
	}
	err := c.parse(fs, args)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err = c.run(ctx, fs, fs.Args(), stdout)
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "crmedge %s: %s\nusage: %s   (crmedge %s --help for more)\n", c.name, ue.msg, c.synopsis(), c.name)
		return 2
	}
	fmt.Fprintln(stderr, "crmedge "+c.name+":", err)
	return 1
}

// parse reads the flags, from args and then the environment, and checks the
// positional arguments.
func (c command) parse(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usageError{err.Error()} // pflag prints nothing itself when it continues on error
	}
	if err := flagsFromEnv(fs); err != nil {
		return usageError{err.Error()}
	}
	return c.checkArgs(fs.Args())
}

// usageError is a command line a command cannot run: a flag pflag rejects, a
// missing, unknown or extra argument, or flags a command refuses together.
// execute reports it with the command's usage, exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

func (c command) synopsis() string {
	return "crmedge " + strings.TrimSpace(c.name+" "+c.args) + " [flags]"
}

// checkArgs holds the positional arguments to c.args, so that no command
// ignores an argument (`crmedge check other.db` would check crmedge.db).
func (c command) checkArgs(args []string) error {
	words := strings.Fields(c.args)
	if len(words) == 0 {
		if len(args) > 0 {
			return usageErrorf("takes no arguments, got %q", strings.Join(args, " "))
		}
		return nil
	}
	required, most := 0, len(words)
	for _, w := range words {
		if !strings.HasPrefix(w, "[") {
			required++
		}
		if strings.HasSuffix(w, "...") {
			most = math.MaxInt
		}
	}
	switch {
	case len(args) < required:
		return usageErrorf("missing %s", strings.Join(words[len(args):required], " "))
	case len(args) > most:
		return usageErrorf("unexpected argument %q", args[most])
	}
	if choices := strings.Split(words[0], "|"); len(choices) > 1 && !slices.Contains(choices, args[0]) {
		return usageErrorf("%q is not one of %s or %s", args[0], strings.Join(choices[:len(choices)-1], ", "), choices[len(choices)-1])
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "crmedge — the shop's CRM edge: member, points and gift APIs served locally, forwarded upstream.")
	fmt.Fprintln(w, "\nusage: crmedge <command> [flags]   (crmedge <command> --help for its flags)")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  %s %s\t%s\n", c.name, c.args, c.help)
	}
	tw.Flush()
}

// flagsFromEnv fills every flag not given on the command line from
// CRMEDGE_<FLAG> (upper case, dashes as underscores).
func flagsFromEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "CRMEDGE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s: %w", name, serr)
			}
		}
	})
	return err
}

func str(fs *pflag.FlagSet, name string) string { v, _ := fs.GetString(name); return v }

// openDB opens --db, creating and migrating it.
func openDB(ctx context.Context, fs *pflag.FlagSet) (*sqlstore.DB, error) {
	return sqlstore.Open(ctx, str(fs, "db"), sqlstore.Options{})
}

func serveFlags(fs *pflag.FlagSet) {
	fs.String("addr", ":8080", "listen address")
	fs.String("org", "", "organisation id shown as \"org\" in loyalty history (default: this edge's id)")
	fs.String("upstream", "", "base URL of the central CRM (or a hub crmedge); empty: standalone")
	fs.String("upstream-token", "", "token sent upstream as Authorization: Bearer and Api-Key")
	fs.Int("upstream-concurrency", upstream.DefaultConcurrency, "customers forwarded in parallel")
	fs.Duration("upstream-timeout", upstream.DefaultTimeout, "timeout of synchronous upstream calls (read-through, unknown codes)")
	fs.Duration("upstream-max-backoff", upstream.DefaultMaxBackoff, "cap of the retry backoff")
	fs.Duration("outbox-keep", 30*24*time.Hour, "how long writes the central accepted stay listed in the outbox (0: forever)")
	fs.String("log-format", "text", "log format: text or json")
	fs.String("tls-cert", "", "TLS certificate file (with --tls-key): serve HTTPS")
	fs.String("tls-key", "", "TLS key file")
	fs.Float64("rate-limit", 0, "requests per second allowed per token (0: unlimited)")
	fs.Int("rate-burst", 0, "burst allowed per token (default: 2 × rate-limit)")
}

func runServe(ctx context.Context, fs *pflag.FlagSet, _ []string, out io.Writer) error {
	var log *slog.Logger
	switch str(fs, "log-format") {
	case "text":
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	case "json":
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	default:
		return usageErrorf("--log-format must be text or json")
	}
	cert, key := str(fs, "tls-cert"), str(fs, "tls-key")
	if (cert == "") != (key == "") {
		return usageErrorf("--tls-cert and --tls-key go together")
	}
	var tlsConfig *tls.Config
	if cert != "" {
		// Loaded before anything else, so a bad pair stops the start at once.
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	}
	started := time.Now()
	serveGC()
	db, err := openDB(ctx, fs)
	if err != nil {
		return err
	}
	defer db.Close()
	// A large file is checked while serving; damage found then stops serve
	// with the same message as a refusal at start-up.
	checked, err := db.StartupCheck(ctx)
	if err != nil {
		return err
	}
	edgeID, err := db.EdgeID(ctx)
	if err != nil {
		return err
	}
	org := str(fs, "org")
	if org == "" {
		org = edgeID
	}

	var client *upstream.Client
	if base := str(fs, "upstream"); base != "" {
		conc, _ := fs.GetInt("upstream-concurrency")
		timeout, _ := fs.GetDuration("upstream-timeout")
		maxBackoff, _ := fs.GetDuration("upstream-max-backoff")
		client, err = upstream.New(upstream.Options{BaseURL: base, Token: str(fs, "upstream-token"), EdgeID: edgeID,
			Concurrency: conc, Timeout: timeout, MaxBackoff: maxBackoff, Logger: log})
		if err != nil {
			return err
		}
	}
	cfg := edge.Config{Store: db, Org: org}
	if client != nil {
		cfg.Upstream = client
		cfg.Notify = client.Notify // a committed write wakes the forwarder
	}
	svc := edge.NewService(cfg)
	if secret, err := svc.EnsureAdminToken(ctx); err != nil {
		return err
	} else if secret != "" {
		fmt.Fprintf(out, "created admin token (shown once, keep it): %s\n", secret)
	}
	rateLimit, _ := fs.GetFloat64("rate-limit")
	rateBurst, _ := fs.GetInt("rate-burst")
	api := edge.NewServer(svc, edge.ServerOptions{Logger: log, Version: version, RateLimit: rateLimit, RateBurst: rateBurst})
	api.Metrics().Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "crmedge_database_bytes", Help: "Size of the database file and its WAL.",
	}, func() float64 { return float64(db.Size()) }))

	ln, err := net.Listen("tcp", str(fs, "addr"))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
		srv.TLSConfig = tlsConfig
	}
	// The forwarder and the outbox retention run until shutdown, and are
	// waited for before the database closes.
	bgCtx, stopBackground := context.WithCancel(context.Background())
	var background sync.WaitGroup
	if client != nil {
		background.Go(func() {
			upstream.NewForwarder(client, svc, upstream.ForwarderOptions{Logger: log, OnResult: func(result string) {
				api.Metrics().Forwarded.WithLabelValues(result).Inc()
			}}).Run(bgCtx)
		})
	}
	if keep, _ := fs.GetDuration("outbox-keep"); keep > 0 {
		background.Go(func() { svc.RunRetention(bgCtx, keep, time.Hour, log) })
	}
	serveErr := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			serveErr <- srv.ServeTLS(ln, "", "")
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()
	log.Info("serving", "addr", ln.Addr().String(), "scheme", scheme, "db", db.Path(), "upstream", client != nil,
		"startup_ms", time.Since(started).Milliseconds(), "version", version)
	fmt.Fprintf(out, "crmedge serving on %s://%s\n", scheme, ln.Addr())

	var damaged error
	for done := false; !done; {
		select {
		case err := <-serveErr:
			stopBackground()
			background.Wait()
			return fmt.Errorf("serve: %w", err)
		case damaged = <-checked:
			checked, done = nil, damaged != nil
			if damaged != nil {
				log.Error("database damaged: stopping", "err", damaged)
			}
		case <-ctx.Done():
			done = true
		}
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	stopBackground()
	background.Wait()
	if cerr := db.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if damaged != nil {
		return damaged
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped cleanly")
	return nil
}

// serveGC collects garbage less often than Go's default (GOGC=100) unless
// GOGC is set: a serving edge's live heap is a few MiB, and each request's
// garbage is short-lived, so a collection every few MiB of allocation costs
// more CPU per request (about a sixth, see the README's Performance) than
// the memory it saves.
func serveGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
}

const serveGCPercent = 400

func runMigrate(_ context.Context, fs *pflag.FlagSet, args []string, out io.Writer) error {
	v, dirty, err := sqlstore.Migrate(str(fs, "db"), args[0])
	if err != nil {
		return err
	}
	suffix := ""
	if dirty {
		suffix = " (dirty)"
	}
	_, err = fmt.Fprintf(out, "schema version %d%s\n", v, suffix)
	return err
}

func tokenFlags(fs *pflag.FlagSet) {
	fs.String("name", "", "token name (create, revoke)")
	// An array, not a slice: each --pos is one pos_id as given (a slice would
	// split it at commas and refuse quotes).
	fs.StringArray("pos", nil, "create: limit the token to this pos_id (repeatable)")
	fs.Bool("admin", false, "create: allow /admin/* endpoints")
}

func runToken(ctx context.Context, fs *pflag.FlagSet, args []string, out io.Writer) error {
	if args[0] != "list" && str(fs, "name") == "" {
		return usageErrorf("%s needs --name N", args[0])
	}
	db, err := openDB(ctx, fs)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := edge.NewService(edge.Config{Store: db})
	switch args[0] {
	case "create":
		pos, _ := fs.GetStringArray("pos")
		admin, _ := fs.GetBool("admin")
		secret, err := svc.CreateToken(ctx, str(fs, "name"), pos, admin)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, secret)
		return err
	case "list":
		tokens, err := svc.Tokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tADMIN\tPOS\tCREATED\tREVOKED")
		for _, t := range tokens {
			revoked := "-"
			if !t.RevokedAt.IsZero() {
				revoked = t.RevokedAt.Format(time.RFC3339)
			}
			pos := strings.Join(t.PosIDs, ",")
			if pos == "" {
				pos = "(all)"
			}
			fmt.Fprintf(tw, "%d\t%s\t%v\t%s\t%s\t%s\n", t.ID, t.Name, t.Admin, pos, t.CreatedAt.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	case "revoke":
		if err := svc.RevokeToken(ctx, str(fs, "name")); err != nil {
			return err
		}
		_, err := fmt.Fprintf(out, "revoked %s\n", str(fs, "name"))
		return err
	}
	return usageErrorf("unknown token command %q (create, list, revoke)", args[0])
}

func runImport(ctx context.Context, fs *pflag.FlagSet, args []string, out io.Writer) error {
	f, err := os.Open(args[1])
	if err != nil {
		return err
	}
	defer f.Close()
	tty := isTerminal(os.Stderr)
	if tty {
		fmt.Fprintf(os.Stderr, "reading %s…", args[1])
	}
	batch, err := edge.ParseCatalog(args[0], f)
	if tty {
		fmt.Fprintln(os.Stderr)
	}
	if err != nil {
		return fmt.Errorf("%s: %s (nothing imported)", args[1], importMessage(err))
	}
	db, err := openDB(ctx, fs)
	if err != nil {
		return err
	}
	defer db.Close()
	progress := func(done, total int) {}
	if tty {
		progress = func(done, total int) {
			fmt.Fprintf(os.Stderr, "\rimporting %s: %d/%d rows (%d%%)", args[0], done, total, done*100/max(total, 1))
			if done == total {
				fmt.Fprintln(os.Stderr)
			}
		}
	}
	start := time.Now()
	if err := edge.NewService(edge.Config{Store: db}).ImportCatalog(ctx, batch, progress); err != nil {
		if tty {
			fmt.Fprintln(os.Stderr)
		}
		return fmt.Errorf("%s: %s (nothing imported)", args[1], importMessage(err))
	}
	_, err = fmt.Fprintf(out, "imported %d %s in %s\n", batch.Len(), args[0], time.Since(start).Round(time.Millisecond))
	return err
}

// importMessage is what the operator reads: a bad file's line, or the
// underlying error (the CLI has no cashier to hide it from).
func importMessage(err error) string {
	if edge.ErrorCode(err) == edge.EINTERNAL {
		return err.Error()
	}
	return edge.ErrorMessage(err)
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func runBackup(ctx context.Context, fs *pflag.FlagSet, _ []string, out io.Writer) error {
	to := str(fs, "to")
	if to == "" {
		return usageErrorf("--to FILE is required")
	}
	db, err := openDB(ctx, fs)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Backup(ctx, to); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "backed up %s to %s\n", db.Path(), to)
	return err
}

func runRestore(ctx context.Context, fs *pflag.FlagSet, _ []string, out io.Writer) error {
	from := str(fs, "from")
	if from == "" {
		return usageErrorf("--from FILE is required")
	}
	kept, err := sqlstore.Restore(ctx, from, str(fs, "db"))
	if err != nil {
		return err
	}
	if kept != "" {
		fmt.Fprintf(out, "kept the replaced database as %s\n", kept)
	}
	// Open once: migrates the restored file to this crmedge's schema.
	db, err := openDB(ctx, fs)
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "restored %s from %s\n", str(fs, "db"), from)
	return err
}

func runCheck(ctx context.Context, fs *pflag.FlagSet, _ []string, out io.Writer) error {
	path := str(fs, "db")
	rep, err := sqlstore.CheckFile(ctx, path)
	if err != nil {
		return err
	}
	for _, t := range sqlstore.CountedTables() {
		if n, ok := rep.Counts[t]; ok {
			fmt.Fprintf(out, "%-20s %d\n", t, n)
		}
	}
	if len(rep.Problems) > 0 {
		if len(rep.Problems) > 20 {
			rep.Problems = rep.Problems[:20]
		}
		return fmt.Errorf("%s is damaged (schema version %d): %s; restore a backup", path, rep.Version, strings.Join(rep.Problems, "; "))
	}
	_, err = fmt.Fprintf(out, "%s: ok (schema version %d, integrity_check ok)\n", path, rep.Version)
	return err
}

func runOutbox(ctx context.Context, fs *pflag.FlagSet, args []string, out io.Writer) error {
	if len(args) < 1 {
		return fmt.Errorf("usage: crmedge outbox list|retry [ID]")
	}
	db, err := openDB(ctx, fs)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := edge.NewService(edge.Config{Store: db})
	switch args[0] {
	case "list":
		stateText := str(fs, "state")
		if dead, _ := fs.GetBool("dead"); dead {
			stateText = "dead"
		}
		state, err := edge.ParseEventState(stateText)
		if err != nil {
			return errors.New(edge.ErrorMessage(err))
		}
		limit, _ := fs.GetInt("limit")
		evs, err := svc.OutboxEvents(ctx, edge.OutboxFilter{State: state, Limit: limit})
		if err != nil {
			return err
		}
		enc := json.NewEncoder(out)
		for i := range evs {
			if err := enc.Encode(edge.EventView(&evs[i])); err != nil {
				return err
			}
		}
		return nil
	case "retry":
		id := ""
		if len(args) > 1 {
			id = args[1]
		}
		var n int
		var err error
		switch all, _ := fs.GetBool("all-dead"); {
		case id != "":
			n, err = 1, svc.RetryDeadEvent(ctx, id)
		case all:
			n, err = svc.RetryAllDead(ctx)
		default:
			return fmt.Errorf("give an event ID or --all-dead")
		}
		if err != nil {
			return errors.New(edge.ErrorMessage(err))
		}
		_, err = fmt.Fprintf(out, "requeued %d events\n", n)
		return err
	}
	return fmt.Errorf("unknown outbox command %q (list, retry)", args[0])
}
