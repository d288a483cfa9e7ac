package fakecrm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// apiError is the one error vocabulary of the fake: an HTTP status, a machine
// code (shown by the loyalty dialect) and a message. Each dialect renders it
// into its own envelope in exactly one function.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// dialect is one of the four API families. render turns an apiError into the
// dialect's error envelope; it is also how injected faults are dressed up, so
// a forwarder sees the body it would see from the real central.
type dialect struct {
	render func(*apiError) any
}

var (
	memberDialect = &dialect{render: func(e *apiError) any {
		return memberEnvelope{Status: e.status, Message: e.message, Data: nil}
	}}
	loyaltyDialect = &dialect{render: func(e *apiError) any {
		return loyaltyError{Success: 0, Message: e.message, Error: e.code}
	}}
	typeDialect = &dialect{render: func(e *apiError) any {
		return typeEnvelope{Status: 0, Error: typeErrorNumber(e.status), Message: e.message, Data: nil}
	}}
	profileDialect = &dialect{render: func(e *apiError) any {
		return profileEnvelope{Data: nil, Message: e.message, Code: e.status}
	}}
	// unknownDialect answers paths that belong to no dialect.
	unknownDialect = &dialect{render: func(e *apiError) any {
		return map[string]any{"status": e.status, "error": e.code, "message": e.message}
	}}
)

// dialectFor tells which dialect a path belongs to, so that even a request the
// fake will not route (401, injected fault, unknown path) is answered in the
// envelope its client expects.
func dialectFor(path string) *dialect {
	switch {
	case path == "/customers_location":
		return memberDialect
	case path == "/accumulate", path == "/redeem", path == "/history-point":
		return loyaltyDialect
	case strings.HasPrefix(path, "/api/crm/type/"):
		return typeDialect
	case strings.HasPrefix(path, "/1.0/customer/"):
		return profileDialect
	}
	return unknownDialect
}

// call is a dialect request as a handler sees it.
type call struct {
	method string
	path   string
	query  url.Values
	body   []byte
}

// decode parses the JSON body into v; unknown fields are ignored.
func (cl *call) decode(v any) *apiError {
	if err := json.Unmarshal(cl.body, v); err != nil {
		return errorf(http.StatusBadRequest, "invalid_json", "malformed JSON body: %v", err)
	}
	return nil
}

// handlerFunc serves one route: it returns the HTTP status and the value to
// encode as the body, or an error the route's dialect renders.
type handlerFunc func(s *store, cl *call) (int, any, *apiError)

type route struct {
	dialect *dialect
	handle  handlerFunc
}

// routes maps "METHOD /path" to its handler. It is fixed at compile time and
// never written, so sharing it between CRMs is not shared state.
var routes = map[string]route{
	"GET /customers_location":  {memberDialect, (*store).getMember},
	"POST /customers_location": {memberDialect, (*store).postMember},
	"PUT /customers_location":  {memberDialect, (*store).putMember},

	"POST /accumulate":   {loyaltyDialect, (*store).accumulate},
	"POST /redeem":       {loyaltyDialect, (*store).redeem},
	"GET /history-point": {loyaltyDialect, (*store).history},

	"POST /api/crm/type/create":   {typeDialect, (*store).createType},
	"POST /api/crm/type/update":   {typeDialect, (*store).updateType},
	"POST /api/crm/type/delete":   {typeDialect, (*store).deleteType},
	"POST /api/crm/type/updateNo": {typeDialect, (*store).updateTypeNo},
	"GET /api/crm/type/list":      {typeDialect, (*store).listTypes},

	"POST /1.0/customer/create": {profileDialect, (*store).createProfile},
	"POST /1.0/customer/update": {profileDialect, (*store).updateProfile},
}

// dispatch routes cl and returns the status and encoded body to send.
func (s *store) dispatch(cl *call) (int, []byte) {
	rt, ok := routes[cl.method+" "+cl.path]
	if !ok {
		d := dialectFor(cl.path)
		for key := range routes {
			if strings.HasSuffix(key, " "+cl.path) {
				return encodeError(d, errorf(http.StatusMethodNotAllowed, "method_not_allowed", "method %s not allowed on %s", cl.method, cl.path))
			}
		}
		return encodeError(d, errorf(http.StatusNotFound, "not_found", "no such endpoint: %s", cl.path))
	}
	status, v, aerr := rt.handle(s, cl)
	if aerr != nil {
		return encodeError(rt.dialect, aerr)
	}
	return status, mustJSON(v)
}

func encodeError(d *dialect, e *apiError) (int, []byte) {
	return e.status, mustJSON(d.render(e))
}

// mustJSON encodes values the fake built itself; they always encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("fakecrm: encoding response: %v", err))
	}
	return b
}

// invalidContact turns a store error about a phone or email into the 409 a
// central would give when the number is someone else's.
func invalidContact(err error) *apiError {
	return errorf(http.StatusConflict, "contact_conflict", "%v", err)
}
