package edge_test

import (
	"strings"
	"testing"
)

// The accumulate fast path (no read before the write) keeps its answers: a
// known code is spent once, a used one is a conflict, an unknown one is not
// found (standalone: nothing to pass it through to), and a failed write
// leaves nothing behind.
func TestAccumulateAnswersWithoutAPreRead(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustDo(200, "PUT", "/admin/v1/products", "", `[{"code":"TIVI01","name":"TV","score":100}]`)
	h.mustDo(200, "PUT", "/admin/v1/codes", "", `[{"code":"TIVInpmx8b98pfg","product_code":"TIVI01","serial":"npmx8b98pfg"}]`)
	body := `{"code":"%s","data":{"name":"A","phones":[{"type":"mobile","value":"0945350398"}]}}`
	b := h.mustDo(200, "POST", "/accumulate", "plain", strings.Replace(body, "%s", "TIVInpmx8b98pfg", 1))
	if !strings.Contains(string(b), `"balance":100`) {
		t.Errorf("first accumulate: %s", b)
	}
	b = h.mustDo(409, "POST", "/accumulate", "plain", strings.Replace(body, "%s", "TIVInpmx8b98pfg", 1))
	if !strings.Contains(string(b), `"error":"code_used"`) {
		t.Errorf("second accumulate: %s", b)
	}
	b = h.mustDo(404, "POST", "/accumulate", "plain", strings.Replace(body, "%s", "NOSUCHCODE", 1))
	if !strings.Contains(string(b), `"error":"code_not_found"`) || !strings.Contains(string(b), `"success":0`) {
		t.Errorf("unknown code: %s", b)
	}
	// The unknown code's write created no customer: a new phone stays unknown.
	h.mustDo(404, "POST", "/accumulate", "plain", `{"code":"NOSUCHCODE","data":{"phones":[{"value":"0912345678"}]}}`)
	h.mustDo(404, "GET", "/customers_location?phone=0912345678", "plain", "")
	b = h.mustDo(200, "GET", "/balance?phone=0945350398", "plain", "")
	if !strings.Contains(string(b), `"balance":100`) {
		t.Errorf("balance: %s", b)
	}
}
