package edge

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/julienschmidt/httprouter"
)

// TestPanicAnswersInTheDialectEnvelope: a bug in a handler is a 500 in the
// dialect's envelope, "Internal error" to the client, the details logged
// once with the request id, and the security headers still set.
func TestPanicAnswersInTheDialectEnvelope(t *testing.T) {
	var logs bytes.Buffer
	s := NewServer(NewService(Config{}), ServerOptions{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	for path, d := range map[string]*dialect{"/panic/loyalty": loyaltyDialect, "/panic/types": typesDialect, "/panic/profile": profileDialect} {
		s.handle(http.MethodGet, path, d, public, func(http.ResponseWriter, *http.Request, httprouter.Params) error {
			panic("boom: secret detail")
		})
	}
	for path, want := range map[string]string{
		"/panic/loyalty": `{"success":0,"message":"Internal error","error":"internal"}`,
		"/panic/types":   `{"status":0,"error":5,"message":"Internal error","data":null}`,
		"/panic/profile": `{"data":null,"message":"Internal error","code":500}`,
	} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 500 || strings.TrimSpace(rec.Body.String()) != want {
			t.Errorf("%s: %d %s, want 500 %s", path, rec.Code, rec.Body, want)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" || !json.Valid(rec.Body.Bytes()) {
			t.Errorf("%s: headers %v", path, rec.Header())
		}
		id := rec.Header().Get("X-Request-Id")
		if !strings.Contains(logs.String(), `"request_id":"`+id+`"`) || !strings.Contains(logs.String(), "boom: secret detail") {
			t.Errorf("%s: the panic is not logged with request id %s:\n%s", path, id, logs.String())
		}
	}
}
