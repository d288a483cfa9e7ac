package edge

import (
	"errors"
	"fmt"
)

// Error codes: one small vocabulary the whole domain speaks. Each dialect maps
// them onto its own envelope and HTTP status in exactly one function.
const (
	EINVALID      = "invalid"      // the request is wrong; the message names the field
	ENOTFOUND     = "not_found"    // the thing asked for does not exist
	ECONFLICT     = "conflict"     // the request clashes with what is stored
	EUNAUTHORIZED = "unauthorized" // no valid token
	EFORBIDDEN    = "forbidden"    // a valid token that may not do this
	ETOOLARGE     = "too_large"    // the request body is over the limit
	ERATELIMIT    = "rate_limited" // the token is over its request rate
	EUNAVAILABLE  = "unavailable"  // storage full or read-only, or a busy idempotency key: retry later
	EINTERNAL     = "internal"     // a bug or an unexpected failure; details only in the log
)

// EMETHOD: the path exists, but not with this HTTP method (405).
const EMETHOD = "method_not_allowed"

// Error is a domain error whose Message is safe to show on a cashier's screen.
type Error struct {
	Code    string // one of the E* codes
	Reason  string // machine-readable detail, e.g. "insufficient_points"; optional
	Field   string // the request field at fault, for EINVALID; optional
	Message string
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.Reason, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf builds an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports a bad value of one request field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Reason: "invalid_" + field, Message: fmt.Sprintf(format, args...)}
}

// WithReason returns a copy of e carrying a machine-readable reason.
func (e *Error) WithReason(reason string) *Error {
	c := *e
	c.Reason = reason
	return &c
}

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	}
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err. Internal errors never
// leak their text: the caller logs them and the user sees a generic sentence.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "Internal error"
}

// ErrorReason returns the machine-readable reason of err, defaulting to its code.
func ErrorReason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Reason != "" {
			return e.Reason
		}
		return e.Code
	}
	return EINTERNAL
}

// HTTPStatus maps an error code to the HTTP status every dialect uses.
func HTTPStatus(code string) int {
	switch code {
	case EINVALID:
		return 400
	case EUNAUTHORIZED:
		return 401
	case EFORBIDDEN:
		return 403
	case ENOTFOUND:
		return 404
	case ECONFLICT:
		return 409
	case EMETHOD:
		return 405
	case ETOOLARGE:
		return 413
	case ERATELIMIT:
		return 429
	case EUNAVAILABLE:
		return 503
	default:
		return 500
	}
}
