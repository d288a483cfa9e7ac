package edge

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"
	"golang.org/x/time/rate"
)

// MaxBodyBytes caps request bodies (SPEC §8).
const MaxBodyBytes = 1 << 20

// ServerOptions configure the HTTP layer.
type ServerOptions struct {
	Logger    *slog.Logger
	Version   string
	RateLimit float64 // requests per second per token; 0: unlimited
	RateBurst int
}

// Server is crmedge's HTTP API: four dialects, admin, health and metrics.
type Server struct {
	svc     *Service
	log     *slog.Logger
	opts    ServerOptions
	router  *httprouter.Router
	metrics *Metrics
	limits  sync.Map            // token name → *rate.Limiter
	paths   map[string]*dialect // route path → its dialect, for 405 answers
}

// NewServer builds the router.
func NewServer(svc *Service, opts ServerOptions) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.RateBurst <= 0 {
		opts.RateBurst = max(1, int(opts.RateLimit*2))
	}
	s := &Server{svc: svc, log: opts.Logger, opts: opts, router: httprouter.New(), metrics: NewMetrics(svc),
		paths: map[string]*dialect{}}
	s.router.RedirectTrailingSlash = false
	s.router.RedirectFixedPath = false
	s.router.HandleMethodNotAllowed = true
	s.router.NotFound = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"status": 404, "message": "No such endpoint", "data": nil})
	})
	s.router.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d, ok := s.paths[r.URL.Path]; ok {
			d.writeError(w, &Error{Code: EMETHOD, Reason: EMETHOD, Message: fmt.Sprintf("Method %s is not allowed here", r.Method)})
			return
		}
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"status": 405, "message": "Method not allowed", "data": nil})
	})
	s.router.PanicHandler = func(w http.ResponseWriter, r *http.Request, v any) {
		s.log.Error("panic", "request_id", requestID(r.Context()), "panic", fmt.Sprint(v))
		writeJSON(w, http.StatusInternalServerError, map[string]any{"status": 500, "message": "Internal error", "data": nil})
	}
	s.routeMember()
	s.routeLoyalty()
	s.routeTypes()
	s.routeProfile()
	s.routeAdmin()
	return s
}

// Metrics exposes the Prometheus collectors (for tests and main).
func (s *Server) Metrics() *Metrics { return s.metrics }

// ServeHTTP applies the cross-cutting middleware: request id, security
// headers, the body cap, and the request log and metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if !saneRequestID(id) {
		id = newRequestID()
	}
	h := w.Header()
	h["X-Request-Id"] = []string{id}
	for k, v := range securityHeaders {
		h[k] = v // shared, never changed in place: Set and Add replace a value
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	info := &requestInfo{id: id, route: "unmatched"}
	r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
	s.router.ServeHTTP(rec, r)
	elapsed := time.Since(start)
	s.metrics.observe(info.route, r.Method, rec.status, elapsed)
	if info.route == "/healthz" || info.route == "/metrics" {
		return
	}
	// Never the raw URL: its query holds phone numbers.
	attrs := []slog.Attr{slog.String("request_id", id), slog.String("method", r.Method),
		slog.String("route", info.route), slog.Int("status", rec.status), slog.Float64("ms", float64(elapsed.Microseconds())/1000),
		slog.String("token", info.token), slog.String("remote", remoteHost(r))}
	if len(info.warnings) > 0 {
		attrs = append(attrs, slog.Any("warnings", info.warnings))
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// securityHeaders go on every answer, keys in canonical form.
var securityHeaders = map[string][]string{
	"X-Content-Type-Options":  {"nosniff"},
	"X-Frame-Options":         {"DENY"},
	"Referrer-Policy":         {"no-referrer"},
	"Content-Security-Policy": {"default-src 'none'; frame-ancestors 'none'"},
	"Cache-Control":           {"no-store"},
}

type requestInfoKey struct{}

// requestInfo carries what the request log needs out of the handlers, and
// the request's query, parsed once.
type requestInfo struct {
	id       string
	route    string
	token    string
	query    url.Values
	warnings []string // what the request log adds about a request that succeeded (never a whole phone number)
}

func infoOf(ctx context.Context) *requestInfo {
	if ri, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{}
}

func requestID(ctx context.Context) string { return infoOf(ctx).id }

// saneRequestID accepts a client's X-Request-Id of up to 64 letters, digits
// and ".-_:" only; anything else is replaced (it is echoed and logged).
func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func remoteHost(r *http.Request) string {
	if i := strings.LastIndexByte(r.RemoteAddr, ':'); i > 0 {
		return r.RemoteAddr[:i]
	}
	return r.RemoteAddr
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// dialect is what differs between the four APIs at the HTTP edge: how an
// error is shown, and how a request authenticates.
type dialect struct {
	name string
	// writeError renders err in the dialect's envelope: the one place each
	// dialect builds an error body.
	writeError func(w http.ResponseWriter, err error)
	// replayOK is the body answered to a replayed write whose first answer
	// was lost in a crash between commit and reply.
	replayOK any
}

// access is who may call a route.
type access int

const (
	public access = iota // no token
	anyToken
	adminOnly
)

// apiHandler is a dialect handler: it returns domain errors for the dialect
// to render instead of writing them itself.
type apiHandler func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error

// handle registers a route with authentication, rate limiting, idempotent
// replay for writes, and error rendering.
func (s *Server) handle(method, path string, d *dialect, acc access, h apiHandler) {
	s.paths[path] = d
	s.router.Handle(method, path, func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		info := infoOf(r.Context())
		info.route = path
		defer func() {
			// A bug answers 500 in the dialect's envelope, logged once.
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.fail(w, r, d, fmt.Errorf("panic: %v", v))
			}
		}()
		if acc != public {
			p, err := s.authenticate(r, acc)
			if err != nil {
				s.fail(w, r, d, err)
				return
			}
			info.token = p.TokenName
			if !s.allow(p.TokenName) {
				s.fail(w, r, d, &Error{Code: ERATELIMIT, Reason: "rate_limited", Message: "Too many requests from this token; slow down"})
				return
			}
			r = r.WithContext(WithPrincipal(r.Context(), p))
		}
		if key := r.Header.Get("Idempotency-Key"); key != "" && (method == http.MethodPost || method == http.MethodPut) {
			s.idempotent(w, r, ps, d, key, h)
			return
		}
		if err := h(w, r, ps); err != nil {
			s.fail(w, r, d, err)
		}
	})
}

// authenticate reads the token from `Authorization: Bearer` or `Api-Key`.
func (s *Server) authenticate(r *http.Request, acc access) (Principal, error) {
	secret := ""
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, rest, ok := strings.Cut(a, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return Principal{}, Errorf(EUNAUTHORIZED, "Authorization must be: Bearer <token>")
		}
		secret = strings.TrimSpace(rest)
	} else {
		secret = strings.TrimSpace(r.Header.Get("Api-Key"))
	}
	p, err := s.svc.Authenticate(r.Context(), secret)
	if err != nil {
		return p, err
	}
	if acc == adminOnly && !p.Admin {
		return p, Errorf(EFORBIDDEN, "This endpoint needs an admin token")
	}
	return p, nil
}

func (s *Server) allow(token string) bool {
	if s.opts.RateLimit <= 0 {
		return true
	}
	l, ok := s.limits.Load(token)
	if !ok {
		l, _ = s.limits.LoadOrStore(token, rate.NewLimiter(rate.Limit(s.opts.RateLimit), s.opts.RateBurst))
	}
	return l.(*rate.Limiter).Allow()
}

// idempotent answers a write that carries an Idempotency-Key: an applied key
// gets its stored answer; a new one runs, and its answer is kept.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, ps httprouter.Params, d *dialect, key string, h apiHandler) {
	if len(key) > 128 {
		s.fail(w, r, d, Invalid("Idempotency-Key", "Idempotency-Key is longer than 128 characters"))
		return
	}
	if s.replay(w, r, d, key) {
		return
	}
	rec := &bodyRecorder{ResponseWriter: w, status: 200}
	err := h(rec, r.WithContext(WithIdempotencyKey(r.Context(), key)), ps)
	if err != nil {
		if IsDuplicateKey(err) && s.replay(w, r, d, key) {
			return
		}
		s.fail(w, r, d, err)
		return
	}
	if rec.status >= 200 && rec.status < 300 {
		if err := s.svc.SaveIdempotentResponse(context.WithoutCancel(r.Context()), key, rec.status, rec.body.Bytes()); err != nil {
			s.log.Error("save idempotent response", "request_id", requestID(r.Context()), "err", err)
		}
	}
}

// replay writes the stored answer for key, if the key was applied.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, d *dialect, key string) bool {
	status, body, found, err := s.svc.IdempotentResponse(r.Context(), key)
	if err != nil || !found {
		return false
	}
	w.Header().Set("Idempotent-Replayed", "true")
	if status == 0 {
		// Applied, but the process stopped before the answer was stored.
		writeJSON(w, http.StatusOK, d.replayOK)
		return true
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return true
}

type bodyRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *bodyRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *bodyRecorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// fail renders err in the dialect's envelope; internal errors are logged once
// here, with the request id, and shown to the client only as "Internal error".
func (s *Server) fail(w http.ResponseWriter, r *http.Request, d *dialect, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = &Error{Code: ETOOLARGE, Reason: "too_large", Message: fmt.Sprintf("The request body is over %d bytes", MaxBodyBytes)}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		err = &Error{Code: EUNAVAILABLE, Reason: "canceled", Message: "The request was canceled or timed out"}
	}
	code := ErrorCode(err)
	if code == EINTERNAL {
		s.log.Error("internal error", "request_id", requestID(r.Context()), "route", infoOf(r.Context()).route, "err", err)
	} else if code == EUNAVAILABLE {
		s.log.Warn("unavailable", "request_id", requestID(r.Context()), "route", infoOf(r.Context()).route, "err", err)
	}
	if code == ERATELIMIT || code == EUNAVAILABLE {
		w.Header().Set("Retry-After", "1")
	}
	d.writeError(w, err)
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"Internal error"}`)
	}
	writeRawJSON(w, status, b)
}

// writeRawJSON writes b, already encoded JSON, as the answer.
func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// readBody reads the request body (already capped) for decoding and for the
// outbox, which replays it upstream.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, Errorf(EINVALID, "Could not read the request body")
	}
	return b, nil
}

// decodeBody reads and decodes a JSON object body into v. Unknown fields are
// ignored; a wrong type names its field.
func decodeBody(r *http.Request, v any) ([]byte, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, Invalid("body", "The request body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		return nil, Invalid("body", "The request body is not valid UTF-8")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, jsonError(err)
	}
	return body, nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		return Invalid(fe.field, "%s", fe.msg)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return Invalid("body", "The request body must be a JSON object")
		}
		return Invalid(field, "%s must be %s, not a JSON %s", field, jsonKind(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se):
		return Invalid("body", "Malformed JSON at byte %d: %v", se.Offset, se)
	default:
		return Invalid("body", "Malformed JSON: %v", err)
	}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "bool":
		return "true or false"
	default:
		return "a number"
	}
}

// fieldError is returned by custom JSON decoders to name their field.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.msg }

// call describes the request for the outbox: the same dialect call is replayed
// upstream.
func call(r *http.Request, body []byte) Call {
	return Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body}
}

// text is a JSON string field that also accepts a number (POS software sends
// "1996" or 1996 for a year) and remembers whether it was present.
type text struct {
	set bool
	val string
}

func (t *text) UnmarshalJSON(b []byte) error {
	t.set = true
	switch {
	case string(b) == "null":
		t.set = false
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &t.val)
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		t.val = string(b)
	default:
		kind := "value"
		switch b[0] {
		case '[':
			kind = "array"
		case '{':
			kind = "object"
		case 't', 'f':
			kind = "bool"
		}
		return &json.UnmarshalTypeError{Value: kind, Type: stringType}
	}
	return nil
}

var stringType = reflect.TypeOf("")

// queryText reads one query parameter, rejecting one given twice with
// different values (a classic way to smuggle a second pos_id past a proxy).
func queryText(r *http.Request, name string) (string, error) {
	info := infoOf(r.Context())
	if info.query == nil {
		info.query = r.URL.Query()
	}
	vals := info.query[name]
	if len(vals) == 0 {
		return "", nil
	}
	for _, v := range vals[1:] {
		if v != vals[0] {
			return "", Invalid(name, "%s is given more than once", name)
		}
	}
	v := strings.TrimSpace(vals[0])
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) || utf8.RuneCountInString(v) > MaxTextLen {
		return "", Invalid(name, "%s is not valid text of at most %d characters", name, MaxTextLen)
	}
	return v, nil
}
