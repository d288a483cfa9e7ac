package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"crmedge/edge"
)

// The loyalty seed (points-redeem-api.txt): its example requests verbatim, and
// its catalog: code TIVInpmx8b98pfg (serial npmx8b98pfg) of product TIVI01
// worth 100, gift DAUMAY01 costing 10.
const (
	seedOrg        = "62c10674cbe832bc9245a5b8" // the harness's configured org (the seed's)
	seedAccumulate = `{"code":"TIVInpmx8b98pfg","data":{"emails":[{"type":"Work","value":"xyz@example.com"}],"name":"thong","phones":[{"type":"Work","value":"023232"}]}}`
	seedRedeem     = `{"code":"DAUMAY01","data":{"email":"xyz@example.com","phone":"023232"}}`
	seedProducts   = `[{"code":"TIVI01","name":"Tivi","score":100},{"code":"PEN01","name":"Pen","score":1}]`
	seedCodes      = `[{"code":"TIVInpmx8b98pfg","product_code":"TIVI01","serial":"npmx8b98pfg"},{"code":"TIVI0002","product_code":"TIVI01","serial":"s0002"}]`
	seedGifts      = `[{"code":"DAUMAY01","name":"Đầu máy","score":10},{"code":"BIG01","name":"Big","score":1000}]`
	// garnachoAccumulate earns with the seed history item's contact.
	garnachoAccumulate = `{"code":"TIVInpmx8b98pfg","data":{"name":"Garnacho","phones":[{"type":"Work","value":"0867123456"}],"emails":[{"type":"Work","value":"garnacho@gmail.com"}]}}`
)

var hexID = regexp.MustCompile(`^[0-9a-f]{24}$`)

// seedCatalog loads the seed's catalog (and a few extra rows) over PUT /admin/v1.
func seedCatalog(t testing.TB, h *harness) {
	t.Helper()
	h.mustDo(200, "PUT", "/admin/v1/products", "", seedProducts)
	h.mustDo(200, "PUT", "/admin/v1/codes", "", seedCodes)
	h.mustDo(200, "PUT", "/admin/v1/gifts", "", seedGifts)
}

// seedEarned is the seed catalog plus the seed's accumulate: xyz@example.com
// has 100 points.
func seedEarned(t *testing.T, h *harness) {
	t.Helper()
	seedCatalog(t, h)
	h.mustDo(200, "POST", "/accumulate", "", seedAccumulate)
}

// garnachoEarnedAndRedeemed is the seed history's customer with both entries.
func garnachoEarnedAndRedeemed(t *testing.T, h *harness) {
	t.Helper()
	seedCatalog(t, h)
	h.mustDo(200, "POST", "/accumulate", "", garnachoAccumulate)
	h.clock.Advance(time.Second)
	h.mustDo(200, "POST", "/redeem", "", `{"code":"DAUMAY01","data":{"phone":"0867123456"}}`)
}

// importCodes adds n codes of product (PREFIX-0001…) through the domain.
func importCodes(t testing.TB, h *harness, product, prefix string, n int) []string {
	t.Helper()
	var b strings.Builder
	b.WriteString("code,product_code,serial\n")
	codes := make([]string, n)
	for i := range n {
		codes[i] = fmt.Sprintf("%s-%04d", prefix, i+1)
		fmt.Fprintf(&b, "%s,%s,sn%d\n", codes[i], product, i+1)
	}
	batch, err := edge.ParseCatalog(edge.CatalogCodes, strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("parse codes: %v", err)
	}
	if err := h.svc.ImportCatalog(context.Background(), batch, nil); err != nil {
		t.Fatalf("import codes: %v", err)
	}
	return codes
}

func accumulateBody(code, phone, email string) string {
	var phones, emails string
	if phone != "" {
		phones = fmt.Sprintf(`{"type":"Work","value":%q}`, phone)
	}
	if email != "" {
		emails = fmt.Sprintf(`{"type":"Work","value":%q}`, email)
	}
	return fmt.Sprintf(`{"code":%q,"data":{"name":"N","phones":[%s],"emails":[%s]}}`, code, phones, emails)
}

// balanceOf reads GET /balance?QUERY.
func balanceOf(t testing.TB, h *harness, query string) (points, pending int64) {
	t.Helper()
	var b struct {
		Success int   `json:"success"`
		Balance int64 `json:"balance"`
		Pending int64 `json:"pending"`
	}
	if err := json.Unmarshal(h.mustDo(200, "GET", "/balance?"+query, "", ""), &b); err != nil || b.Success != 1 {
		t.Fatalf("balance %s: %v %+v", query, err, b)
	}
	return b.Balance, b.Pending
}

func wantBalance(want int64, query string) func(t *testing.T, h *harness, _ []byte) {
	return func(t *testing.T, h *harness, _ []byte) {
		t.Helper()
		if got, _ := balanceOf(t, h, query); got != want {
			t.Errorf("balance of %s = %d, want %d", query, got, want)
		}
	}
}

// historyItems reads GET /history-point?QUERY.
func historyItems(t testing.TB, h *harness, query string) []map[string]any {
	t.Helper()
	var items []map[string]any
	body := h.mustDo(200, "GET", "/history-point?"+query, "", "")
	if err := json.Unmarshal(body, &items); err != nil {
		t.Fatalf("history %s: %v: %s", query, err, body)
	}
	if items == nil {
		t.Fatalf("history %s: %s is not an array", query, body)
	}
	return items
}

func keysOf(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func checkKeys(t *testing.T, what string, v any, want ...string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is %T, not an object", what, v)
	}
	sort.Strings(want)
	if got := keysOf(m); !slices.Equal(got, want) {
		t.Errorf("%s keys = %v, want %v", what, got, want)
	}
	return m
}

// checkSeedContact checks the seed item's contact: Garnacho, with one phone
// and one email, each with its own `_id`.
func checkSeedContact(t *testing.T, v any) string {
	t.Helper()
	c := checkKeys(t, "contact", v, "phones", "name", "emails", "lastname", "customerId", "id")
	if c["name"] != "Garnacho" || c["lastname"] != "" || c["customerId"] != float64(1) || !hexID.MatchString(fmt.Sprint(c["id"])) {
		t.Errorf("contact = %v", c)
	}
	phones, _ := c["phones"].([]any)
	emails, _ := c["emails"].([]any)
	if len(phones) != 1 || len(emails) != 1 {
		t.Fatalf("contact phones %v emails %v", phones, emails)
	}
	ph := checkKeys(t, "contact.phones[0]", phones[0], "type", "_id", "value")
	em := checkKeys(t, "contact.emails[0]", emails[0], "type", "_id", "value")
	if ph["type"] != "Work" || ph["value"] != "0867123456" || em["type"] != "Work" || em["value"] != "garnacho@gmail.com" {
		t.Errorf("contact entries %v %v", ph, em)
	}
	ids := []any{c["id"], ph["_id"], em["_id"]}
	for _, id := range ids[1:] {
		if !hexID.MatchString(fmt.Sprint(id)) {
			t.Errorf("contact _id %v is not a 24-hex id", id)
		}
	}
	if ids[0] == ids[1] || ids[1] == ids[2] || ids[0] == ids[2] {
		t.Errorf("contact ids are not distinct: %v", ids)
	}
	return fmt.Sprint(c["id"])
}

// checkSeedShape checks garnachoEarnedAndRedeemed's history against the seed's
// two example items, key by key.
func checkSeedShape(t *testing.T, h *harness, body []byte) {
	t.Helper()
	var items []map[string]any
	if err := json.Unmarshal(body, &items); err != nil || len(items) != 2 {
		t.Fatalf("history: %v, %d items: %s", err, len(items), body)
	}
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).UnixMilli()
	gift := checkKeys(t, "type 2 item", items[0], "type", "score", "status", "gift", "contact", "org", "createdAt", "id")
	if gift["type"] != float64(2) || gift["score"] != float64(10) || gift["status"] != float64(1) ||
		gift["org"] != seedOrg || gift["createdAt"] != float64(start+1000) || !hexID.MatchString(fmt.Sprint(gift["id"])) {
		t.Errorf("type 2 item = %v", gift)
	}
	g := checkKeys(t, "gift", gift["gift"], "code", "name", "score", "id")
	if g["code"] != "DAUMAY01" || g["name"] != "Đầu máy" || g["score"] != float64(10) || !hexID.MatchString(fmt.Sprint(g["id"])) {
		t.Errorf("gift = %v", g)
	}
	point := checkKeys(t, "type 1 item", items[1], "type", "score", "status", "product", "contact", "org", "code", "serialNumber", "createdAt", "id")
	if point["type"] != float64(1) || point["score"] != float64(100) || point["status"] != float64(1) ||
		point["org"] != seedOrg || point["code"] != "TIVInpmx8b98pfg" || point["serialNumber"] != "npmx8b98pfg" ||
		point["createdAt"] != float64(start) || !hexID.MatchString(fmt.Sprint(point["id"])) || point["id"] == gift["id"] {
		t.Errorf("type 1 item = %v", point)
	}
	p := checkKeys(t, "product", point["product"], "code", "name", "id")
	if p["code"] != "TIVI01" || p["name"] != "Tivi" || !hexID.MatchString(fmt.Sprint(p["id"])) {
		t.Errorf("product = %v", p)
	}
	if a, b := checkSeedContact(t, point["contact"]), checkSeedContact(t, gift["contact"]); a != b {
		t.Errorf("the two items name different contacts: %s, %s", a, b)
	}
}

func TestLoyaltyScenarios(t *testing.T) {
	t.Parallel()
	runScenarios(t, []scenario{
		// Accumulate.
		{name: "seed accumulate request verbatim", setup: func(t *testing.T, h *harness) { seedCatalog(t, h) },
			method: "POST", url: "/accumulate", body: seedAccumulate, status: 200,
			contains: []string{`{"success":1,"score":100,"balance":100,"id":"`}, notContains: []string{`warnings`, `pending`},
			check: func(t *testing.T, h *harness, body []byte) {
				wantBalance(100, "email=xyz@example.com")(t, h, body)
				items := historyItems(t, h, "email=XYZ@example.com&type=point")
				if len(items) != 1 || items[0]["code"] != "TIVInpmx8b98pfg" || items[0]["serialNumber"] != "npmx8b98pfg" {
					t.Fatalf("history after the seed accumulate: %v", items)
				}
				c := items[0]["contact"].(map[string]any)
				if c["name"] != "thong" || len(c["phones"].([]any)) != 0 || len(c["emails"].([]any)) != 1 {
					t.Errorf("the customer created by the seed request: %v", c)
				}
				if decode(t, body)["id"] != items[0]["id"] {
					t.Errorf("accumulate answered id %v, history shows %v", decode(t, body)["id"], items[0]["id"])
				}
			}},
		{name: "accumulate creates the customer with its phones, emails and name", setup: func(t *testing.T, h *harness) { seedCatalog(t, h) },
			method: "POST", url: "/accumulate", body: garnachoAccumulate, status: 200, contains: []string{`"balance":100`},
			notContains: []string{`warnings`},
			check: func(t *testing.T, h *harness, _ []byte) {
				b := h.mustDo(200, "GET", "/customers_location?phone=%2B84867123456", "", "")
				for _, want := range []string{`"name":"Garnacho"`, `"phone":"0867123456"`, `"email":"garnacho@gmail.com"`} {
					if !strings.Contains(string(b), want) {
						t.Errorf("member view lacks %s: %s", want, b)
					}
				}
			}},
		{name: "accumulate finds the customer by any phone form", setup: func(t *testing.T, h *harness) {
			seedCatalog(t, h)
			h.mustDo(200, "POST", "/accumulate", "", garnachoAccumulate)
		}, method: "POST", url: "/accumulate", body: accumulateBody("TIVI0002", "+84 867 123 456", ""), status: 200,
			contains: []string{`"balance":200`}, check: wantBalance(200, "email=GARNACHO@gmail.com")},
		{name: "accumulate finds the customer by email, case-insensitively, and adds the new phone", setup: func(t *testing.T, h *harness) {
			seedCatalog(t, h)
			h.mustDo(200, "POST", "/accumulate", "", garnachoAccumulate)
		}, method: "POST", url: "/accumulate", body: accumulateBody("TIVI0002", "0912345678", "Garnacho@Gmail.com"), status: 200,
			contains: []string{`"balance":200`}, check: wantBalance(200, "phone=0912345678")},
		{name: "accumulate finds a member created through the member dialect", setup: func(t *testing.T, h *harness) {
			seedCatalog(t, h)
			createSeedMember(t, h)
		}, method: "POST", url: "/accumulate", body: accumulateBody("TIVI0002", "84945350398", ""), status: 200,
			check: func(t *testing.T, h *harness, _ []byte) {
				items := historyItems(t, h, "phone=0945350398")
				if len(items) != 1 || items[0]["contact"].(map[string]any)["name"] != "Ly Tu Quang Thang" {
					t.Errorf("history of the member: %v", items)
				}
			}},
		{name: "unknown code", setup: func(t *testing.T, h *harness) { seedCatalog(t, h) }, method: "POST", url: "/accumulate",
			body: accumulateBody("NOPE", "0867123456", ""), status: 404,
			contains: []string{`{"success":0,"message":"Code not found","error":"code_not_found"}`},
			check: func(t *testing.T, h *harness, _ []byte) {
				if items := historyItems(t, h, "phone=0867123456"); len(items) != 0 {
					t.Errorf("a refused accumulate left history: %v", items)
				}
			}},
		{name: "used code", setup: seedEarned, method: "POST", url: "/accumulate", body: garnachoAccumulate, status: 409,
			contains: []string{`"success":0`, `"error":"code_used"`, `already been used`},
			check: func(t *testing.T, h *harness, _ []byte) {
				wantBalance(100, "email=xyz@example.com")(t, h, nil)
				wantBalance(0, "phone=0867123456")(t, h, nil)
			}},
		{name: "used code by the same customer", setup: seedEarned, method: "POST", url: "/accumulate", body: seedAccumulate,
			status: 409, contains: []string{`"error":"code_used"`}, check: wantBalance(100, "email=xyz@example.com")},
		{name: "code lookup is exact", setup: func(t *testing.T, h *harness) { seedCatalog(t, h) }, method: "POST", url: "/accumulate",
			body: accumulateBody("tivinpmx8b98pfg", "0867123456", ""), status: 404, contains: []string{`"error":"code_not_found"`}},
		{name: "code with surrounding spaces", setup: func(t *testing.T, h *harness) { seedCatalog(t, h) }, method: "POST", url: "/accumulate",
			body: accumulateBody(" TIVInpmx8b98pfg ", "0867123456", ""), status: 200, contains: []string{`"balance":100`}},
		{name: "no phone and no email", method: "POST", url: "/accumulate",
			body: `{"code":"TIVInpmx8b98pfg","data":{"name":"x","phones":[],"emails":[]}}`, status: 400,
			contains: []string{`"success":0`, `"error":"contact_required"`}},
		{name: "no data", method: "POST", url: "/accumulate", body: `{"code":"TIVInpmx8b98pfg"}`, status: 400,
			contains: []string{`"error":"contact_required"`}},
		{name: "no code", method: "POST", url: "/accumulate", body: `{"data":{"phones":[{"value":"0867123456"}]}}`, status: 400,
			contains: []string{`"error":"invalid_code"`, `code is required`}},
		{name: "blank code", method: "POST", url: "/accumulate", body: `{"code":"  ","data":{"phones":[{"value":"0867123456"}]}}`, status: 400,
			contains: []string{`"error":"invalid_code"`}},
		{name: "only the placeholder phone", setup: func(t *testing.T, h *harness) { seedCatalog(t, h) }, method: "POST", url: "/accumulate",
			body: `{"code":"TIVInpmx8b98pfg","data":{"name":"thong","phones":[{"type":"Work","value":"023232"}]}}`, status: 400,
			contains: []string{`"error":"invalid_data.phones"`, `data.phones`}},
		{name: "an invalid phone beside a valid one is ignored", setup: func(t *testing.T, h *harness) { seedCatalog(t, h) },
			method: "POST", url: "/accumulate",
			body: `{"code":"TIVInpmx8b98pfg","data":{"phones":[{"value":"023232"},{"value":"0867123456"}]}}`, status: 200,
			contains: []string{`"success":1`}, notContains: []string{`warnings`},
			check: wantBalance(100, "phone=0867123456")},
		{name: "an invalid email", method: "POST", url: "/accumulate",
			body:   `{"code":"TIVInpmx8b98pfg","data":{"phones":[{"value":"0867123456"}],"emails":[{"value":"not-an-email"}]}}`,
			status: 400, contains: []string{`"success":0`, `data.emails[0]`}},
		{name: "code as a number", method: "POST", url: "/accumulate", body: `{"code":12345,"data":{"phones":[{"value":"0867123456"}]}}`,
			status: 400, contains: []string{`"success":0`, `code must be a string`}},
		{name: "data as a string", method: "POST", url: "/accumulate", body: `{"code":"X","data":"0867123456"}`,
			status: 400, contains: []string{`"success":0`, `data must be an object`}},
		{name: "phones as a string", method: "POST", url: "/accumulate", body: `{"code":"X","data":{"phones":"0867123456"}}`,
			status: 400, contains: []string{`"success":0`, `data.phones must be an array`}},
		{name: "phone value as a number", method: "POST", url: "/accumulate", body: `{"code":"X","data":{"phones":[{"value":867123456}]}}`,
			status: 400, contains: []string{`"success":0`, `must be a string`}},
		{name: "body an array", method: "POST", url: "/accumulate", body: `[]`, status: 400, contains: []string{`"success":0`}},
		{name: "malformed JSON", method: "POST", url: "/accumulate", body: `{"code":`, status: 400,
			contains: []string{`"success":0`, `Malformed JSON`}},
		{name: "empty body", method: "POST", url: "/accumulate", status: 400, contains: []string{`"success":0`, `body is empty`}},
		{name: "unknown fields are ignored", setup: func(t *testing.T, h *harness) { seedCatalog(t, h) }, method: "POST", url: "/accumulate",
			body: `{"code":"TIVInpmx8b98pfg","till":7,"data":{"phones":[{"value":"0867123456","note":"x"}],"colour":"red"}}`, status: 200},
		{name: "body over 1 MiB", method: "POST", url: "/accumulate",
			body: `{"code":"X","data":{"name":"` + strings.Repeat("a", 1<<20) + `"}}`, status: 413, contains: []string{`"success":0`}},

		{name: "a replayed accumulate applies once", setup: func(t *testing.T, h *harness) {
			seedCatalog(t, h)
			h.mustDo(200, "POST", "/accumulate", "", seedAccumulate, "Idempotency-Key", "till7-0001")
		}, method: "POST", url: "/accumulate", body: seedAccumulate, headers: []string{"Idempotency-Key", "till7-0001"},
			status: 200, contains: []string{`"success":1`, `"balance":100`}, check: wantBalance(100, "email=xyz@example.com")},
		{name: "a replayed redeem applies once", setup: func(t *testing.T, h *harness) {
			seedEarned(t, h)
			h.mustDo(200, "POST", "/redeem", "", seedRedeem, "Idempotency-Key", "till7-0002")
		}, method: "POST", url: "/redeem", body: seedRedeem, headers: []string{"Idempotency-Key", "till7-0002"},
			status: 200, contains: []string{`"balance":90`}, check: wantBalance(90, "email=xyz@example.com")},

		// Auth, in the loyalty envelope.
		{name: "no token", method: "POST", url: "/accumulate", token: "none", body: seedAccumulate, status: 401,
			contains: []string{`{"success":0,"message":"Missing token`, `"error":"unauthorized"}`}},
		{name: "bad token", method: "GET", url: "/balance?email=xyz@example.com", token: "crm_nope", status: 401,
			contains: []string{`"success":0`, `"error":"unauthorized"`}},
		{name: "not a bearer", method: "GET", url: "/history-point?email=xyz@example.com", token: "none",
			headers: []string{"Authorization", "Basic abc"}, status: 401, contains: []string{`"success":0`, `"error":"unauthorized"`}},
		{name: "pos token earns at its location", setup: func(t *testing.T, h *harness) { seedCatalog(t, h) }, method: "POST",
			url: "/accumulate", token: "pos1", body: garnachoAccumulate, status: 200},
		{name: "pos token at another location", setup: func(t *testing.T, h *harness) { seedCatalog(t, h) }, method: "POST",
			url: "/accumulate?pos_id=pos2", token: "pos1", body: garnachoAccumulate, status: 403,
			contains: []string{`"success":0`, `"error":"forbidden"`}},
		{name: "pos token redeems for a customer of another location", setup: seedEarned, method: "POST",
			url: "/redeem", token: "pos1", body: seedRedeem, status: 403, contains: []string{`"success":0`, `"error":"forbidden"`},
			check: wantBalance(100, "email=xyz@example.com")},
		{name: "pos token reads the history of a customer of another location", setup: seedEarned, method: "GET",
			url: "/history-point?email=xyz@example.com", token: "pos1", status: 403, contains: []string{`"success":0`}},
		{name: "pos token redeems for a customer who earned there", setup: func(t *testing.T, h *harness) {
			seedCatalog(t, h)
			h.mustDo(200, "POST", "/accumulate", "pos1", garnachoAccumulate)
		}, method: "POST", url: "/redeem", token: "pos1", body: `{"code":"DAUMAY01","data":{"phone":"0867123456"}}`, status: 200,
			contains: []string{`"balance":90`}},

		// Redeem.
		{name: "seed redeem request verbatim", setup: seedEarned, method: "POST", url: "/redeem", body: seedRedeem, status: 200,
			contains: []string{`{"success":1,"score":10,"balance":90,"id":"`}, notContains: []string{`warnings`, `pending`},
			check: wantBalance(90, "email=xyz@example.com")},
		{name: "redeem by phone", setup: func(t *testing.T, h *harness) {
			seedCatalog(t, h)
			h.mustDo(200, "POST", "/accumulate", "", garnachoAccumulate)
		}, method: "POST", url: "/redeem", body: `{"code":"DAUMAY01","data":{"phone":"+84867123456"}}`, status: 200,
			contains: []string{`"balance":90`}, notContains: []string{`warnings`}},
		{name: "redeem down to zero, then insufficient points", setup: func(t *testing.T, h *harness) {
			seedEarned(t, h)
			for range 10 {
				h.mustDo(200, "POST", "/redeem", "", seedRedeem)
			}
		}, method: "POST", url: "/redeem", body: seedRedeem, status: 409,
			contains: []string{`"success":0`, `"error":"insufficient_points"`, `the gift costs 10, the balance is 0`},
			check:    wantBalance(0, "email=xyz@example.com")},
		{name: "insufficient points", setup: seedEarned, method: "POST", url: "/redeem",
			body: `{"code":"BIG01","data":{"email":"xyz@example.com"}}`, status: 409,
			contains: []string{`"error":"insufficient_points"`},
			check: func(t *testing.T, h *harness, _ []byte) {
				wantBalance(100, "email=xyz@example.com")(t, h, nil)
				if items := historyItems(t, h, "email=xyz@example.com&type=gift"); len(items) != 0 {
					t.Errorf("a refused redeem left history: %v", items)
				}
			}},
		{name: "unknown gift", setup: seedEarned, method: "POST", url: "/redeem", body: `{"code":"NOGIFT","data":{"email":"xyz@example.com"}}`,
			status: 404, contains: []string{`{"success":0,"message":"Gift not found","error":"gift_not_found"}`}},
		{name: "unknown customer", setup: seedEarned, method: "POST", url: "/redeem", body: `{"code":"DAUMAY01","data":{"phone":"0912345678"}}`,
			status: 404, contains: []string{`{"success":0,"message":"Customer not found","error":"customer_not_found"}`}},
		{name: "unknown customer by email", setup: seedEarned, method: "POST", url: "/redeem",
			body:   `{"code":"DAUMAY01","data":{"email":"nobody@example.com","phone":"023232"}}`,
			status: 404, contains: []string{`"error":"customer_not_found"`}},
		{name: "redeem without contact", method: "POST", url: "/redeem", body: `{"code":"DAUMAY01","data":{}}`, status: 400,
			contains: []string{`"success":0`, `"error":"contact_required"`}},
		{name: "redeem without data", method: "POST", url: "/redeem", body: `{"code":"DAUMAY01"}`, status: 400,
			contains: []string{`"error":"contact_required"`}},
		{name: "redeem with only the placeholder phone", setup: seedEarned, method: "POST", url: "/redeem",
			body: `{"code":"DAUMAY01","data":{"phone":"023232"}}`, status: 400,
			contains: []string{`"error":"invalid_data.phone"`, `data.phone is not a valid phone number`}},
		{name: "redeem with a bad email", method: "POST", url: "/redeem", body: `{"code":"DAUMAY01","data":{"email":"x@","phone":"0867123456"}}`,
			status: 400, contains: []string{`"error":"invalid_data.email"`}},
		{name: "redeem without code", method: "POST", url: "/redeem", body: `{"data":{"email":"xyz@example.com"}}`, status: 400,
			contains: []string{`"error":"invalid_code"`}},
		{name: "redeem phone as a number", method: "POST", url: "/redeem", body: `{"code":"DAUMAY01","data":{"phone":867123456}}`,
			status: 400, contains: []string{`"success":0`, `data.phone must be a string`}},
		{name: "redeem code as an object", method: "POST", url: "/redeem", body: `{"code":{},"data":{"phone":"0867123456"}}`,
			status: 400, contains: []string{`"success":0`, `code must be a string`}},

		// Balance.
		{name: "balance", setup: seedEarned, method: "GET", url: "/balance?email=xyz@example.com", status: 200,
			contains: []string{`{"success":1,"balance":100,"pending":0}`}},
		{name: "balance of an unknown customer is 0", method: "GET", url: "/balance?phone=0912345678", status: 200,
			contains: []string{`{"success":1,"balance":0,"pending":0}`}},
		{name: "balance without contact", method: "GET", url: "/balance", status: 400,
			contains: []string{`"success":0`, `"error":"contact_required"`}},
		{name: "balance with a bad phone", method: "GET", url: "/balance?phone=023232", status: 400,
			contains: []string{`"success":0`, `"error":"invalid_phone"`}},

		// History.
		{name: "history in the seed's shape", setup: garnachoEarnedAndRedeemed, method: "GET",
			url: "/history-point?phone=0867123456", status: 200, check: checkSeedShape},
		{name: "history by email in the seed's shape", setup: garnachoEarnedAndRedeemed, method: "GET",
			url: "/history-point?email=garnacho@gmail.com&type=none", status: 200, check: checkSeedShape},
		{name: "history type=point", setup: garnachoEarnedAndRedeemed, method: "GET",
			url: "/history-point?type=point&phone=0867123456", status: 200, contains: []string{`"type":1`}, notContains: []string{`"type":2`}},
		{name: "history type=gift", setup: garnachoEarnedAndRedeemed, method: "GET",
			url: "/history-point?type=gift&phone=0867123456", status: 200, contains: []string{`"type":2`}, notContains: []string{`"type":1`}},
		{name: "history type=other", method: "GET", url: "/history-point?type=other&phone=0867123456", status: 400,
			contains: []string{`"success":0`, `"error":"invalid_type"`}},
		{name: "history of an unknown customer", method: "GET", url: "/history-point?phone=0912345678", status: 200,
			check: func(t *testing.T, h *harness, body []byte) {
				if strings.TrimSpace(string(body)) != "[]" {
					t.Errorf("body %s, want []", body)
				}
			}},
		{name: "history page 0", method: "GET", url: "/history-point?phone=0867123456&page=0", status: 400,
			contains: []string{`"success":0`, `"error":"invalid_page"`}},
		{name: "history page -1", method: "GET", url: "/history-point?phone=0867123456&page=-1", status: 400,
			contains: []string{`"error":"invalid_page"`}},
		{name: "history page x", method: "GET", url: "/history-point?phone=0867123456&page=x", status: 400,
			contains: []string{`"error":"invalid_page"`}},
		{name: "history page 2 of a short history", setup: garnachoEarnedAndRedeemed, method: "GET",
			url: "/history-point?phone=0867123456&page=2", status: 200, check: func(t *testing.T, h *harness, body []byte) {
				if strings.TrimSpace(string(body)) != "[]" {
					t.Errorf("body %s, want []", body)
				}
			}},
		{name: "history bad range", method: "GET", url: "/history-point?phone=0867123456&createdAtRangeFrom=yesterday", status: 400,
			contains: []string{`"error":"invalid_createdAtRangeFrom"`}},
		{name: "history inverted range", method: "GET",
			url: "/history-point?phone=0867123456&createdAtRangeFrom=20&createdAtRangeTo=10", status: 400,
			contains: []string{`"success":0`, `createdAtRangeFrom is after createdAtRangeTo`}},
		{name: "history without contact", method: "GET", url: "/history-point?type=point", status: 400,
			contains: []string{`"error":"contact_required"`}},
		{name: "history wrong method", method: "DELETE", url: "/history-point?phone=0867123456", status: 405,
			contains: []string{`"success":0`}},
	})
}

func TestLoyaltyOffline(t *testing.T) {
	t.Parallel()
	runScenarios(t, []scenario{
		{name: "unknown code while the central is unreachable", opts: []func(*harnessOptions){withOfflineUpstream},
			setup: func(t *testing.T, h *harness) { seedCatalog(t, h) }, method: "POST", url: "/accumulate",
			body: accumulateBody("NOPE", "0867123456", ""), status: 404,
			contains: []string{`"error":"code_not_found"`, `offline`}},
		{name: "points earned offline are pending", opts: []func(*harnessOptions){withOfflineUpstream},
			setup: func(t *testing.T, h *harness) { seedCatalog(t, h) }, method: "POST", url: "/accumulate",
			body: seedAccumulate, status: 200, contains: []string{`"balance":100`},
			check: func(t *testing.T, h *harness, _ []byte) {
				if n := h.outboxLen(); n != 1 {
					t.Errorf("outbox holds %d events, want 1", n)
				}
				if pts, pend := balanceOf(t, h, "email=xyz@example.com"); pts != 100 || pend != 100 {
					t.Errorf("after accumulate: balance %d pending %d, want 100 and 100", pts, pend)
				}
				h.mustDo(200, "POST", "/redeem", "", seedRedeem)
				if pts, pend := balanceOf(t, h, "email=xyz@example.com"); pts != 90 || pend != 100 {
					t.Errorf("after redeem: balance %d pending %d, want 90 and 100", pts, pend)
				}
			}},
	})
}

// TestLoyaltyHistoryPaging earns 25 points one millisecond apart and pages.
func TestLoyaltyHistoryPaging(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	seedCatalog(t, h)
	codes := importCodes(t, h, "PEN01", "PEN", 25)
	start := h.clock.Now().UnixMilli()
	var ids []string // in earning order
	for _, c := range codes {
		b := decode(t, h.mustDo(200, "POST", "/accumulate", "", accumulateBody(c, "0867123456", "")))
		ids = append(ids, b["id"].(string))
		h.clock.Advance(time.Millisecond)
	}
	slices.Reverse(ids) // newest first
	page1 := historyItems(t, h, "phone=0867123456")
	page1b := historyItems(t, h, "phone=0867123456&page=1")
	page2 := historyItems(t, h, "phone=0867123456&page=2")
	page3 := historyItems(t, h, "phone=0867123456&page=3")
	if len(page1) != 20 || len(page1b) != 20 || len(page2) != 5 || len(page3) != 0 {
		t.Fatalf("page sizes %d %d %d %d, want 20 20 5 0", len(page1), len(page1b), len(page2), len(page3))
	}
	got := make([]string, 0, 25)
	for _, it := range append(page1, page2...) {
		got = append(got, it["id"].(string))
	}
	if !slices.Equal(got, ids) {
		t.Errorf("pages 1+2 are not every entry newest first:\n got %v\nwant %v", got, ids)
	}
	if page1[0]["createdAt"] != float64(start+24) || page2[4]["createdAt"] != float64(start) {
		t.Errorf("first/last createdAt %v %v, want %d %d", page1[0]["createdAt"], page2[4]["createdAt"], start+24, start)
	}

	// Range bounds are inclusive at both ends: [start+3, start+7] is 5 entries.
	r := historyItems(t, h, fmt.Sprintf("phone=0867123456&createdAtRangeFrom=%d&createdAtRangeTo=%d", start+3, start+7))
	if len(r) != 5 || r[0]["createdAt"] != float64(start+7) || r[4]["createdAt"] != float64(start+3) {
		t.Errorf("range [+3,+7]: %d items, first %v last %v", len(r), r[0]["createdAt"], r[len(r)-1]["createdAt"])
	}
	if r := historyItems(t, h, fmt.Sprintf("phone=0867123456&createdAtRangeFrom=%d&createdAtRangeTo=%d", start+5, start+5)); len(r) != 1 {
		t.Errorf("range of one millisecond: %d items, want 1", len(r))
	}
	if r := historyItems(t, h, fmt.Sprintf("phone=0867123456&createdAtRangeFrom=%d", start+24)); len(r) != 1 {
		t.Errorf("from the last millisecond: %d items, want 1", len(r))
	}
	if r := historyItems(t, h, fmt.Sprintf("phone=0867123456&createdAtRangeTo=%d", start)); len(r) != 1 {
		t.Errorf("to the first millisecond: %d items, want 1", len(r))
	}
	if r := historyItems(t, h, fmt.Sprintf("phone=0867123456&createdAtRangeTo=%d", start-1)); len(r) != 0 {
		t.Errorf("before the first millisecond: %d items, want 0", len(r))
	}
	if r := historyItems(t, h, fmt.Sprintf("phone=0867123456&createdAtRangeFrom=%d&page=2", start+2)); len(r) != 3 {
		t.Errorf("range with page 2: %d items, want 3", len(r))
	}

	// Entries of the same millisecond: the later one first.
	h.clock.Advance(time.Second)
	seedBody := accumulateBody("TIVInpmx8b98pfg", "0867123456", "")
	first := decode(t, h.mustDo(200, "POST", "/accumulate", "", seedBody))["id"]
	second := decode(t, h.mustDo(200, "POST", "/redeem", "", `{"code":"DAUMAY01","data":{"phone":"0867123456"}}`))["id"]
	third := decode(t, h.mustDo(200, "POST", "/redeem", "", `{"code":"DAUMAY01","data":{"phone":"0867123456"}}`))["id"]
	top := historyItems(t, h, "phone=0867123456")
	if top[0]["id"] != third || top[1]["id"] != second || top[2]["id"] != first || top[0]["createdAt"] != top[2]["createdAt"] {
		t.Errorf("same-millisecond order: got %v %v %v, want %v %v %v", top[0]["id"], top[1]["id"], top[2]["id"], third, second, first)
	}
	gifts := historyItems(t, h, "phone=0867123456&type=gift")
	if len(gifts) != 2 || gifts[0]["id"] != third {
		t.Errorf("type=gift: %v", gifts)
	}
	if n := len(historyItems(t, h, "phone=0867123456&type=point&page=2")); n != 6 {
		t.Errorf("type=point page 2: %d, want 6", n)
	}
	if pts, _ := balanceOf(t, h, "phone=0867123456"); pts != 25+100-20 {
		t.Errorf("balance %d, want 105", pts)
	}
}

// post sends a request from any goroutine (no t.Fatal) and returns status
// and body.
func (h *harness) post(url, body string) (int, []byte, error) {
	req, err := http.NewRequest("POST", h.srv.URL+url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+h.tokens["admin"])
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// concurrently sends n requests at once (released together) and counts the
// statuses.
func concurrently(t *testing.T, h *harness, n int, url string, body func(i int) string) map[int]int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			status, b, err := h.post(url, body(i))
			if err != nil {
				errs <- err
				return
			}
			if status != 200 && status != 409 {
				errs <- fmt.Errorf("status %d: %s", status, b)
			}
			mu.Lock()
			counts[status]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return counts
}

func TestLoyaltyConcurrentRedeemsNeverOverdraw(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	seedEarned(t, h) // 100 points: exactly 10 gifts of 10
	counts := concurrently(t, h, 40, "/redeem", func(int) string { return seedRedeem })
	if counts[200] != 10 || counts[409] != 30 {
		t.Errorf("40 redeems of a balance worth 10: %d succeeded, %d got 409; want 10 and 30", counts[200], counts[409])
	}
	if pts, _ := balanceOf(t, h, "email=xyz@example.com"); pts != 0 {
		t.Errorf("balance %d, want 0", pts)
	}
	if n := len(historyItems(t, h, "email=xyz@example.com&type=gift")); n != 10 {
		t.Errorf("%d gift entries, want 10", n)
	}
}

func TestLoyaltyConcurrentCodeSpentOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	seedCatalog(t, h)
	counts := concurrently(t, h, 20, "/accumulate", func(i int) string {
		return accumulateBody("TIVInpmx8b98pfg", "", fmt.Sprintf("c%d@example.com", i)) // 20 different customers
	})
	if counts[200] != 1 || counts[409] != 19 {
		t.Errorf("20 uses of one code: %d succeeded, %d got 409; want 1 and 19", counts[200], counts[409])
	}
	total := int64(0)
	for i := range 20 {
		pts, _ := balanceOf(t, h, fmt.Sprintf("email=c%d@example.com", i))
		total += pts
	}
	if total != 100 {
		t.Errorf("points credited in all: %d, want 100", total)
	}
}

// ledgerSums computes a customer's balance and pending straight from its
// ledger entries (every page of the history), independently of the cached
// balances the triggers maintain.
func ledgerSums(t testing.TB, h *harness, ct edge.ContactInput) (points, pending int64, n int) {
	t.Helper()
	for page := 1; ; page++ {
		entries, _, err := h.svc.History(context.Background(), edge.HistoryQuery{Contact: ct, Page: page})
		if err != nil {
			t.Fatalf("history: %v", err)
		}
		for _, e := range entries {
			n++
			if e.Status != edge.StatusLive {
				continue
			}
			switch e.Type {
			case edge.EntryAccumulate:
				points += e.Score
				if !e.Confirmed {
					pending += e.Score
				}
			case edge.EntryRedeem:
				points -= e.Score
			}
		}
		if len(entries) < edge.HistoryPageSize {
			return points, pending, n
		}
	}
}

// TestLoyaltyBalanceEqualsLedger runs a mixed sequence of operations, and
// after each one checks the cached balance of every customer against the sum
// of its ledger.
func TestLoyaltyBalanceEqualsLedger(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withOfflineUpstream)
	ctx := context.Background()
	seedCatalog(t, h)
	codes := importCodes(t, h, "TIVI01", "TV", 30)
	customers := []edge.ContactInput{edge.ContactPair("", "+84867123456", ""), edge.ContactPair("", "", "b@example.com"), edge.ContactPair("", "+84912345678", "")}
	queries := []string{"phone=0867123456", "email=b@example.com", "phone=0912345678"}
	bodies := []func(code string) string{
		func(c string) string { return accumulateBody(c, "0867123456", "") },
		func(c string) string { return accumulateBody(c, "", "b@example.com") },
		func(c string) string { return accumulateBody(c, "0912345678", "") },
	}
	redeem := func(who int, gift string) string {
		k, v, _ := strings.Cut(queries[who], "=")
		return fmt.Sprintf(`{"code":%q,"data":{%q:%q}}`, gift, k, v)
	}
	check := func(step string) {
		t.Helper()
		for i, ct := range customers {
			bal, err := h.svc.Balance(ctx, ct)
			if err != nil {
				t.Fatalf("%s: balance: %v", step, err)
			}
			pts, pend, _ := ledgerSums(t, h, ct)
			if bal.Points != pts || bal.Pending != pend {
				t.Fatalf("%s: customer %d: cached balance %d pending %d, ledger says %d and %d", step, i, bal.Points, bal.Pending, pts, pend)
			}
			if hp, hpend := balanceOf(t, h, queries[i]); hp != pts || hpend != pend {
				t.Fatalf("%s: customer %d: GET /balance %d/%d, ledger %d/%d", step, i, hp, hpend, pts, pend)
			}
		}
	}
	// eventOf finds the outbox event of a ledger entry.
	eventOf := func(ledgerID string) *edge.Event {
		t.Helper()
		evs, err := h.svc.OutboxEvents(ctx, edge.OutboxFilter{State: -1, Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		for i := range evs {
			if evs[i].LedgerID == ledgerID {
				return &evs[i]
			}
		}
		t.Fatalf("no outbox event for ledger entry %s", ledgerID)
		return nil
	}
	var entryIDs []string
	next := 0
	step := 0
	for round := range 6 {
		for who := range customers {
			for range 1 + (round+who)%2 {
				b := decode(t, h.mustDo(200, "POST", "/accumulate", "", bodies[who](codes[next])))
				entryIDs = append(entryIDs, b["id"].(string))
				next++
				step++
				check(fmt.Sprintf("step %d accumulate", step))
			}
			h.clock.Advance(time.Millisecond)
			st, body := h.do("POST", "/redeem", "", redeem(who, "DAUMAY01"))
			step++
			if st == 200 {
				entryIDs = append(entryIDs, decode(t, body)["id"].(string))
			}
			check(fmt.Sprintf("step %d redeem (%d)", step, st))
			if st, _ := h.do("POST", "/redeem", "", redeem(who, "BIG01")); st != 409 {
				t.Fatalf("a redeem over the balance answered %d", st)
			}
			check(fmt.Sprintf("step %d refused redeem", step))
		}
		// The central confirms one entry and rejects another (an accumulate
		// in even rounds, a redeem in odd ones).
		confirm := entryIDs[len(entryIDs)-1]
		if err := h.svc.EventDelivered(ctx, eventOf(confirm), 200); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("round %d confirm", round))
		reject := entryIDs[round*2]
		if err := h.svc.EventRejected(ctx, eventOf(reject), 422, `{"success":0,"error":"code_not_found"}`); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("round %d reject", round))
	}
	// Dead letters retried and then accepted: their entries count again.
	if n, err := h.svc.RetryAllDead(ctx); err != nil || n != 6 {
		t.Fatalf("retry dead: %d %v", n, err)
	}
	check("retry dead")
	for round := range 6 {
		if err := h.svc.EventDelivered(ctx, eventOf(entryIDs[round*2]), 200); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("redelivered %d", round))
	}
	total := 0
	for _, ct := range customers {
		_, _, n := ledgerSums(t, h, ct)
		total += n
	}
	if total != len(entryIDs) || total < 40 {
		t.Errorf("ledger holds %d entries, the test made %d", total, len(entryIDs))
	}
}

// TestLoyaltyWriteAnswersCarryTheBalance checks that the balance a write
// answers is the one the next read shows.
func TestLoyaltyWriteAnswersCarryTheBalance(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	seedCatalog(t, h)
	codes := importCodes(t, h, "PEN01", "P", 5)
	want := int64(0)
	for _, c := range codes {
		want++
		b := decode(t, h.mustDo(200, "POST", "/accumulate", "", accumulateBody(c, "0867123456", "")))
		if b["balance"] != float64(want) || b["score"] != float64(1) {
			t.Fatalf("accumulate answered %v, want balance %d", b, want)
		}
		if got, _ := balanceOf(t, h, "phone=0867123456"); got != want {
			t.Fatalf("balance %d, want %d", got, want)
		}
	}
	redeem := `{"code":"DAUMAY01","data":{"phone":"0867123456"}}`
	if st, body := h.do("POST", "/redeem", "", redeem); st != 409 || !strings.Contains(string(body), "the gift costs 10, the balance is 5") {
		t.Fatalf("redeem of 10 with 5 points: %d %s", st, body)
	}
	h.mustDo(200, "POST", "/accumulate", "", accumulateBody("TIVI0002", "0867123456", ""))
	b := decode(t, h.mustDo(200, "POST", "/redeem", "", redeem))
	if b["balance"] != float64(95) || b["score"] != float64(10) {
		t.Fatalf("redeem answered %v, want balance 95", b)
	}
	if got, _ := balanceOf(t, h, "phone=0867123456"); got != 95 {
		t.Fatalf("balance %d, want 95", got)
	}
}

// centralStub is a reachable central CRM answering the accumulate
// pass-through with a canned status, and its history with what it accepted.
type centralStub struct {
	mu      sync.Mutex
	status  int
	body    string
	err     error
	history []edge.LedgerEntry
}

func (c *centralStub) Status() edge.UpstreamStatus { return edge.UpstreamStatus{Online: true} }
func (c *centralStub) FetchMember(context.Context, string, string) (*edge.Customer, error) {
	return nil, nil
}
func (c *centralStub) FetchHistory(context.Context, edge.Contact) ([]edge.LedgerEntry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]edge.LedgerEntry(nil), c.history...), nil
}
func (c *centralStub) Accumulate(_ context.Context, call edge.Call) (int, []byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, nil, c.err
	}
	if c.status == 200 {
		var b struct {
			ID   string `json:"id"`
			Code string `json:"code"`
		}
		_ = json.Unmarshal(call.Body, &b)
		c.history = append(c.history, edge.LedgerEntry{ID: b.ID, Type: edge.EntryAccumulate, Score: 50, Status: edge.StatusLive,
			ItemCode: "RADIO01", ItemName: "Radio", Code: b.Code, Serial: "central", Org: "central-org", CreatedAt: time.UnixMilli(1692084490615)})
	}
	return c.status, []byte(c.body), nil
}

func withCentral(c *centralStub) func(*harnessOptions) {
	return func(o *harnessOptions) { o.upstream = c }
}

// TestLoyaltyUnknownCodePassThrough: a code the local catalog does not know
// is the central's to judge.
func TestLoyaltyUnknownCodePassThrough(t *testing.T) {
	t.Parallel()
	runScenarios(t, []scenario{
		{name: "accepted by the central: its entry and score show here", opts: []func(*harnessOptions){withCentral(&centralStub{status: 200, body: `{"success":1}`})},
			method: "POST", url: "/accumulate", body: accumulateBody("CENTRAL42", "0867123456", ""), status: 200,
			contains: []string{`"success":1`, `"score":50`, `"balance":50`},
			check: func(t *testing.T, h *harness, body []byte) {
				if _, pend := balanceOf(t, h, "phone=0867123456"); pend != 0 {
					t.Errorf("a pass-through's points are pending: %d, want 0 (the central has them)", pend)
				}
				items := historyItems(t, h, "phone=0867123456")
				if len(items) != 1 || items[0]["score"] != float64(50) || items[0]["code"] != "CENTRAL42" ||
					items[0]["id"] != decode(t, body)["id"] || items[0]["product"].(map[string]any)["code"] != "RADIO01" {
					t.Errorf("history after a pass-through: %v", items)
				}
				if n := h.outboxLen(); n != 0 {
					t.Errorf("a pass-through queued %d events; the central has it already", n)
				}
			}},
		{name: "used at the central", opts: []func(*harnessOptions){withCentral(&centralStub{status: 409, body: `{"success":0,"message":"Mã đã được sử dụng","error":"code_used"}`})},
			method: "POST", url: "/accumulate", body: accumulateBody("CENTRAL42", "0867123456", ""), status: 409,
			contains: []string{`{"success":0,"message":"Mã đã được sử dụng","error":"code_used"}`}},
		{name: "unknown at the central", opts: []func(*harnessOptions){withCentral(&centralStub{status: 404, body: `{"success":0,"message":"Not found"}`})},
			method: "POST", url: "/accumulate", body: accumulateBody("CENTRAL42", "0867123456", ""), status: 404,
			contains: []string{`"error":"code_not_found"`}},
		{name: "the central fails", opts: []func(*harnessOptions){withCentral(&centralStub{status: 500, body: `oops`})},
			method: "POST", url: "/accumulate", body: accumulateBody("CENTRAL42", "0867123456", ""), status: 503,
			contains: []string{`"success":0`, `HTTP 500`, `"error":"upstream_unavailable"`}},
		{name: "the central cannot be reached", opts: []func(*harnessOptions){withCentral(&centralStub{err: fmt.Errorf("connection reset")})},
			method: "POST", url: "/accumulate", body: accumulateBody("CENTRAL42", "0867123456", ""), status: 404,
			contains: []string{`"error":"code_not_found"`, `offline`}},
		{name: "a known code is not passed through", opts: []func(*harnessOptions){withCentral(&centralStub{err: fmt.Errorf("must not be called")})},
			setup:  func(t *testing.T, h *harness) { seedCatalog(t, h) },
			method: "POST", url: "/accumulate", body: seedAccumulate, status: 200, contains: []string{`"balance":100`},
			check: func(t *testing.T, h *harness, _ []byte) {
				if _, pend := balanceOf(t, h, "email=xyz@example.com"); pend != 100 {
					t.Errorf("a local code's points pending: %d, want 100 (queued for the central)", pend)
				}
			}},
	})
}
