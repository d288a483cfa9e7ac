package fakecrm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// ---- helpers ----

func start(t *testing.T, opts Options) (*CRM, string) {
	t.Helper()
	c, base, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, base
}

// newClient opens a fresh connection per request. Go's Transport counts a
// request carrying Idempotency-Key as replayable and may resend it on its own
// when a pooled connection breaks before any answer, which could hide the
// faults under test.
func newClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
}

type reply struct {
	status int
	header http.Header
	body   string
}

// send issues one request; body is a string (sent as is) or a value (sent as JSON).
// headers are name, value pairs.
func send(client *http.Client, method, url string, body any, headers ...string) (reply, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}, err
}

func mustSend(t *testing.T, method, url string, body any, headers ...string) reply {
	t.Helper()
	r, err := send(newClient(5*time.Second), method, url, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

func decodeMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("decoding %q: %v", s, err)
	}
	return m
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// eventually polls cond for up to 2 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const (
	phone  = "0945350398"
	custID = "5d8c353a7c857b43b4eff3ae"
	newID  = "653a3ca502e8ab00122c39c3"
)

func seedMember(c *CRM) {
	_, err := c.AddMember("shop1", map[string]any{
		"_id": custID, "phone": phone, "name": "Ly Tu Quang Thang", "gender": "1",
		"birthday": "05-30", "year_birthday": "1996", "email": "Phundk59uet@gmail.com",
	})
	if err != nil {
		panic(err)
	}
}

func seedCatalog(c *CRM) {
	c.AddProduct(Product{Code: "TIVI01", Name: "Tivi", Score: 100})
	c.AddCode(AccumulationCode{Code: "TIVInpmx8b98pfg", ProductCode: "TIVI01", Serial: "npmx8b98pfg"})
	c.AddCode(AccumulationCode{Code: "TIVI2", ProductCode: "TIVI01", Serial: "s2"})
	c.AddGift(Gift{Code: "DAUMAY01", Name: "Đầu máy", Score: 10})
}

// scenario is one row of a dialect table: a fresh CRM, optional seed data,
// one request, and what the answer must be.
type scenario struct {
	name    string
	opts    Options
	setup   func(*CRM)
	method  string
	path    string
	headers []string
	body    any
	status  int
	want    []string // fragments the body must contain
	exact   string   // when set, the whole body
}

func runScenarios(t *testing.T, rows []scenario) {
	t.Helper()
	for _, sc := range rows {
		t.Run(sc.name, func(t *testing.T) {
			c, base := start(t, sc.opts)
			if sc.setup != nil {
				sc.setup(c)
			}
			r := mustSend(t, sc.method, base+sc.path, sc.body, sc.headers...)
			if r.status != sc.status {
				t.Errorf("status = %d, want %d; body %s", r.status, sc.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			if sc.exact != "" && r.body != sc.exact {
				t.Errorf("body = %s\nwant   %s", r.body, sc.exact)
			}
			for _, w := range sc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("body %s\nlacks %s", r.body, w)
				}
			}
		})
	}
}

// ---- dialect shapes ----

func TestMemberDialect(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "get seeded member by +84 spelling", setup: seedMember,
			method: "GET", path: "/customers_location?phone=%2B84%20945.350.398&pos_id=shop1", status: 200,
			want: []string{`"status":200`, `"message":"Customer info"`, `"_id":"` + custID + `"`,
				`"phone":"0945350398"`, `"client_mac":[]`, `"twitter":null`, `"gender":"1"`,
				`"email":"phundk59uet@gmail.com"`}},
		{name: "get at another location", setup: seedMember,
			method: "GET", path: "/customers_location?phone=0945350398&pos_id=shop2", status: 404,
			exact: `{"status":404,"message":"Customer not found","data":null}`},
		{name: "get without phone", method: "GET", path: "/customers_location?pos_id=shop1", status: 400,
			want: []string{`"status":400`, `phone`, `"data":null`}},
		{name: "create keeps 24-hex _id",
			method: "POST", path: "/customers_location?pos_id=shop1",
			body: map[string]any{"_id": newID, "phone": "0912 345 678", "name": "A"}, status: 200,
			exact: `{"status":200,"status_code":200,"message":"Success!","data":{"_id":"` + newID + `"}}`},
		{name: "create mints _id when not 24-hex",
			method: "POST", path: "/customers_location?pos_id=shop1",
			body: map[string]any{"_id": "nope", "phone": "0912345678"}, status: 200,
			want: []string{`"message":"Success!"`, `"_id":"`}},
		{name: "create existing member at same location", setup: seedMember,
			method: "POST", path: "/customers_location?pos_id=shop1",
			body: map[string]any{"phone": "84945350398"}, status: 409,
			want: []string{`"status":409`, `"data":null`}},
		{name: "create known elsewhere joins this location", setup: seedMember,
			method: "POST", path: "/customers_location?pos_id=shop2",
			body: map[string]any{"phone": phone, "_id": newID}, status: 200,
			want: []string{`"_id":"` + custID + `"`}},
		{name: "update", setup: seedMember,
			method: "PUT", path: "/customers_location?pos_id=shop1",
			body: map[string]any{"phone": phone, "name": "B"}, status: 200,
			want: []string{`"status_code":200`, `"_id":"` + custID + `"`}},
		{name: "update unknown",
			method: "PUT", path: "/customers_location?pos_id=shop1",
			body: map[string]any{"phone": phone, "name": "B"}, status: 404,
			exact: `{"status":404,"message":"Customer not found","data":null}`},
		{name: "malformed JSON", method: "POST", path: "/customers_location?pos_id=shop1",
			body: `{"phone":`, status: 400, want: []string{`"status":400`, `"data":null`}},
		{name: "no token", opts: Options{Token: "s3cret"},
			method: "GET", path: "/customers_location?phone=0945350398&pos_id=shop1", status: 401,
			want: []string{`"status":401`, `"data":null`}},
		{name: "bearer token", opts: Options{Token: "s3cret"}, setup: seedMember, headers: []string{"Authorization", "Bearer s3cret"},
			method: "GET", path: "/customers_location?phone=0945350398&pos_id=shop1", status: 200},
		{name: "wrong method", method: "DELETE", path: "/customers_location", status: 405,
			want: []string{`"status":405`}},
	})
}

func TestMemberFieldSet(t *testing.T) {
	c, base := start(t, Options{})
	seedMember(c)
	r := mustSend(t, "GET", base+"/customers_location?phone=0945350398&pos_id=shop1", nil)
	data := decodeMap(t, r.body)["data"].(map[string]any)
	// The seed's field set, exactly.
	want := []string{"_id", "address", "age_range", "birthday", "client_mac", "created_at", "email",
		"facebook", "fb_id", "gender", "home_town", "name", "phone", "relationship_status",
		"twitter", "updated_at", "year_birthday"}
	if got := keys(data); !slices.Equal(got, want) {
		t.Errorf("member keys = %v\nwant %v", got, want)
	}
	if _, err := time.Parse("02-01-2006", data["created_at"].(string)); err != nil {
		t.Errorf("created_at %v is not dd-mm-yyyy", data["created_at"])
	}
}

func TestLoyaltyDialect(t *testing.T) {
	acc := func(code string) map[string]any {
		return map[string]any{"code": code, "id": newID, "data": map[string]any{
			"name": "Garnacho", "phones": []any{map[string]any{"type": "Work", "value": "0867123456"}},
			"emails": []any{map[string]any{"type": "Work", "value": "garnacho@gmail.com"}}}}
	}
	runScenarios(t, []scenario{
		{name: "accumulate a catalog code", setup: seedCatalog,
			method: "POST", path: "/accumulate", body: acc("TIVInpmx8b98pfg"), status: 200,
			exact: `{"success":1,"score":100,"id":"` + newID + `"}`},
		{name: "accumulate a used code", setup: func(c *CRM) {
			seedCatalog(c)
			c.mu.Lock()
			c.store.usedCodes["TIVI2"] = true
			c.mu.Unlock()
		},
			method: "POST", path: "/accumulate", body: acc("TIVI2"), status: 409,
			want: []string{`"success":0`, `"error":"code_used"`}},
		{name: "accumulate an unknown code", setup: seedCatalog,
			method: "POST", path: "/accumulate", body: acc("NOPE"), status: 404,
			want: []string{`"success":0`, `"error":"code_not_found"`, `"message":"`}},
		{name: "accumulate an unknown code when accepted", opts: Options{AcceptUnknownCodes: true, DefaultScore: 250},
			method: "POST", path: "/accumulate", body: acc("NOPE"), status: 200,
			want: []string{`"success":1`, `"score":250`}},
		{name: "accumulate without contact", setup: seedCatalog,
			method: "POST", path: "/accumulate", body: map[string]any{"code": "TIVI2", "data": map[string]any{}}, status: 400,
			want: []string{`"success":0`}},
		{name: "accumulate malformed", method: "POST", path: "/accumulate", body: `[`, status: 400,
			want: []string{`"success":0`, `"error":"invalid_json"`}},
		{name: "redeem with no gift catalog",
			method: "POST", path: "/redeem", body: map[string]any{"code": "ANY", "data": map[string]any{"phone": phone}}, status: 200,
			want: []string{`"success":1`, `"score":10`, `"id":"`}},
		{name: "redeem a gift", setup: seedCatalog,
			method: "POST", path: "/redeem", body: map[string]any{"code": "DAUMAY01", "id": newID, "data": map[string]any{"email": "x@y.vn"}}, status: 200,
			exact: `{"success":1,"score":10,"id":"` + newID + `"}`},
		{name: "redeem an unknown gift", setup: seedCatalog,
			method: "POST", path: "/redeem", body: map[string]any{"code": "NOPE", "data": map[string]any{"phone": phone}}, status: 404,
			want: []string{`"error":"gift_not_found"`}},
		{name: "history of an unknown customer",
			method: "GET", path: "/history-point?phone=0999999999", status: 200, exact: `[]`},
		{name: "history with a bad type",
			method: "GET", path: "/history-point?phone=0999999999&type=both", status: 400, want: []string{`"success":0`}},
		{name: "no token", opts: Options{Token: "s3cret"},
			method: "POST", path: "/accumulate", body: acc("X"), status: 401,
			want: []string{`"success":0`, `"error":"unauthorized"`}},
		{name: "api-key token", opts: Options{Token: "s3cret", AcceptUnknownCodes: true}, headers: []string{"Api-Key", "s3cret"},
			method: "POST", path: "/accumulate", body: acc("X"), status: 200},
	})
}

func TestHistory(t *testing.T) {
	base0 := time.Date(2023, 8, 15, 7, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	tick := base0
	clock := func() time.Time { // every reading one millisecond later
		mu.Lock()
		defer mu.Unlock()
		tick = tick.Add(time.Millisecond)
		return tick
	}
	c, base := start(t, Options{Org: "62c10674cbe832bc9245a5b8", Now: clock})
	seedCatalog(c)

	var seeded []Entry
	for i := range 25 {
		seeded = append(seeded, Entry{Score: i, Product: &Product{Code: "OLD", Name: "Old"}, Code: fmt.Sprint("OLD", i),
			CreatedAt: base0.Add(-time.Hour).UnixMilli() + int64(i)})
	}
	if err := c.AddHistory("0867 123 456", seeded...); err != nil {
		t.Fatal(err)
	}
	mustSend(t, "POST", base+"/accumulate", map[string]any{"code": "TIVInpmx8b98pfg", "data": map[string]any{
		"name": "Garnacho", "phones": []any{map[string]any{"type": "Work", "value": "+84867123456"}},
		"emails": []any{map[string]any{"type": "Work", "value": "garnacho@gmail.com"}}}})
	mustSend(t, "POST", base+"/redeem", map[string]any{"code": "DAUMAY01", "data": map[string]any{"email": "Garnacho@gmail.com"}})

	var page1, page2, gifts []map[string]any
	for _, q := range []struct {
		query string
		into  *[]map[string]any
	}{{"phone=0867123456", &page1}, {"email=garnacho@gmail.com&page=2", &page2}, {"phone=0867123456&type=gift", &gifts}} {
		r := mustSend(t, "GET", base+"/history-point?"+q.query, nil)
		if err := json.Unmarshal([]byte(r.body), q.into); err != nil {
			t.Fatalf("%s: %v: %s", q.query, err, r.body)
		}
	}
	if len(page1) != 20 || len(page2) != 7 || len(gifts) != 1 {
		t.Fatalf("sizes page1=%d page2=%d gifts=%d, want 20, 7, 1", len(page1), len(page2), len(gifts))
	}
	all := append(page1, page2...)
	for i := 1; i < len(all); i++ {
		if all[i-1]["createdAt"].(float64) < all[i]["createdAt"].(float64) {
			t.Fatalf("not newest first at %d", i)
		}
	}
	redeem, earn := all[0], all[1]
	if redeem["type"] != 2.0 || earn["type"] != 1.0 || earn["score"] != 100.0 || earn["serialNumber"] != "npmx8b98pfg" {
		t.Errorf("first items = %v, %v", redeem, earn)
	}
	wantItem := []string{"code", "contact", "createdAt", "id", "org", "product", "score", "serialNumber", "status", "type"}
	if got := keys(earn); !slices.Equal(got, wantItem) {
		t.Errorf("point item keys = %v, want %v", got, wantItem)
	}
	wantGift := []string{"contact", "createdAt", "gift", "id", "org", "score", "status", "type"}
	if got := keys(redeem); !slices.Equal(got, wantGift) {
		t.Errorf("gift item keys = %v, want %v", got, wantGift)
	}
	if got := keys(earn["product"].(map[string]any)); !slices.Equal(got, []string{"code", "id", "name"}) {
		t.Errorf("product keys = %v", got)
	}
	if got := keys(redeem["gift"].(map[string]any)); !slices.Equal(got, []string{"code", "id", "name", "score"}) {
		t.Errorf("gift keys = %v", got)
	}
	ct := earn["contact"].(map[string]any)
	if got := keys(ct); !slices.Equal(got, []string{"customerId", "emails", "id", "lastname", "name", "phones"}) {
		t.Errorf("contact keys = %v", got)
	}
	ph := ct["phones"].([]any)[0].(map[string]any)
	if ph["value"] != "0867123456" || ph["type"] != "Work" || !validID(ph["_id"].(string)) {
		t.Errorf("contact phone = %v", ph)
	}
	if earn["org"] != "62c10674cbe832bc9245a5b8" || earn["status"] != 1.0 || ct["name"] != "Garnacho" {
		t.Errorf("item = %v", earn)
	}
	if last := page2[6]; last["code"] != "OLD0" || last["product"].(map[string]any)["id"] == "" {
		t.Errorf("oldest item = %v", last)
	}

	// createdAt bounds are inclusive.
	from := base0.Add(-time.Hour).UnixMilli()
	r := mustSend(t, "GET", fmt.Sprintf("%s/history-point?phone=0867123456&createdAtRangeFrom=%d&createdAtRangeTo=%d", base, from, from+1), nil)
	var ranged []map[string]any
	_ = json.Unmarshal([]byte(r.body), &ranged)
	if len(ranged) != 2 {
		t.Errorf("range query gave %d items, want 2", len(ranged))
	}
}

func TestCustomerTypeDialect(t *testing.T) {
	typ := func(no, name string) map[string]any {
		return map[string]any{"vbot_id": "v1", "project_code": "p1", "type_no": no, "type_name": name}
	}
	seed := func(c *CRM) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.store.types[typeKey{"v1", "p1", "VIP"}] = &customerType{id: custID, name: "Vip"}
		c.store.types[typeKey{"v1", "p1", "GOLD"}] = &customerType{id: newID, name: "Gold"}
	}
	runScenarios(t, []scenario{
		{name: "create", method: "POST", path: "/api/crm/type/create", body: typ("VIP", "Vip"), status: 200,
			want: []string{`"status":1`, `"error":0`, `"message":"Thành công"`, `"data":"`}},
		{name: "create numeric type_no", method: "POST", path: "/api/crm/type/create",
			body: `{"vbot_id":"v1","project_code":"p1","type_no":7,"type_name":"Seven"}`, status: 200},
		{name: "create conflict", setup: seed, method: "POST", path: "/api/crm/type/create", body: typ("VIP", "Vip"), status: 409,
			want: []string{`"status":0`, `"error":3`, `"data":null`}},
		{name: "create same type_no in another scope", setup: seed, method: "POST", path: "/api/crm/type/create",
			body: map[string]any{"vbot_id": "v2", "project_code": "p1", "type_no": "VIP", "type_name": "Vip"}, status: 200},
		{name: "create without type_no", method: "POST", path: "/api/crm/type/create", body: typ("", "Vip"), status: 400,
			want: []string{`"status":0`, `"error":1`}},
		{name: "update", setup: seed, method: "POST", path: "/api/crm/type/update", body: typ("VIP", "Very"), status: 200,
			exact: `{"status":1,"error":0,"message":"Thành công","data":"` + custID + `"}`},
		{name: "update unknown", method: "POST", path: "/api/crm/type/update", body: typ("VIP", "Very"), status: 404,
			want: []string{`"status":0`, `"error":2`}},
		{name: "delete", setup: seed, method: "POST", path: "/api/crm/type/delete", body: typ("VIP", ""), status: 200,
			exact: `{"status":1,"error":0,"message":"Thành công","data":true}`},
		{name: "delete unknown", method: "POST", path: "/api/crm/type/delete", body: typ("VIP", ""), status: 404,
			want: []string{`"error":2`}},
		{name: "updateNo", setup: seed, method: "POST", path: "/api/crm/type/updateNo",
			body: map[string]any{"vbot_id": "v1", "project_code": "p1", "type_no": "VIP", "new_type_no": "VVIP"}, status: 200},
		{name: "updateNo onto an existing type", setup: seed, method: "POST", path: "/api/crm/type/updateNo",
			body: map[string]any{"vbot_id": "v1", "project_code": "p1", "type_no": "VIP", "new_type_no": "GOLD"}, status: 409,
			want: []string{`"error":3`}},
		{name: "list", setup: seed, method: "GET", path: "/api/crm/type/list?vbot_id=v1&project_code=p1", status: 200,
			want: []string{`{"id":"` + newID + `","type_no":"GOLD","type_name":"Gold"},{"id":"` + custID + `","type_no":"VIP"`}},
		{name: "malformed", method: "POST", path: "/api/crm/type/create", body: `{`, status: 400,
			want: []string{`"status":0`, `"error":1`}},
		{name: "no token", opts: Options{Token: "t"}, method: "POST", path: "/api/crm/type/create", body: typ("VIP", "Vip"), status: 401,
			want: []string{`"error":4`}},
	})
}

func TestProfileDialect(t *testing.T) {
	profile := map[string]any{
		"_id": newID, "email": "test@gmail.com", "full_name": "test", "first_name": "test",
		"dob": "1989-11-03", "phone": nil, "gender": "male", "city": "Hà Nội", "postal_code": 100000,
		"custom_fields": []any{map[string]any{"name": "ldp_pkg_name", "value": "LADIPAGE-PRO"}},
	}
	runScenarios(t, []scenario{
		{name: "create keeps _id", method: "POST", path: "/1.0/customer/create", body: profile, status: 201,
			want: []string{`"code":201`, `"message":"Thành công"`, `"_id":"` + newID + `"`, `"email":"test@gmail.com"`,
				`"full_name":"test"`, `"gender":"male"`, `"dob":"1989-11-03T00:00:00.000Z"`, `"dob_month":10`,
				`"dob_year":1989`, `"dob_day":3`, `"city":"Hà Nội"`, `"custom_fields":[{"name":"ldp_pkg_name","value":"LADIPAGE-PRO"}]`}},
		{name: "create without email or phone", method: "POST", path: "/1.0/customer/create",
			body: map[string]any{"full_name": "x"}, status: 400, want: []string{`"data":null`, `"code":400`}},
		{name: "create an existing _id", setup: seedMember, method: "POST", path: "/1.0/customer/create",
			body: map[string]any{"_id": custID, "phone": "0911111111"}, status: 409, want: []string{`"code":409`}},
		{name: "update a member by its _id", setup: seedMember, method: "POST", path: "/1.0/customer/update",
			body: map[string]any{"_id": custID, "email": "new@x.vn", "gender": "female"}, status: 200,
			want: []string{`"code":200`, `"_id":"` + custID + `"`, `"gender":"female"`, `"full_name":"Ly Tu Quang Thang"`,
				`"dob":"1996-05-30T00:00:00.000Z"`, `"phone":"0945350398"`}},
		{name: "update unknown _id", method: "POST", path: "/1.0/customer/update",
			body: map[string]any{"_id": newID, "email": "a@b.vn"}, status: 404,
			exact: `{"data":null,"message":"Không tìm thấy khách hàng","code":404}`},
		{name: "update without _id", method: "POST", path: "/1.0/customer/update",
			body: map[string]any{"email": "a@b.vn"}, status: 400, want: []string{`"code":400`}},
		{name: "malformed", method: "POST", path: "/1.0/customer/update", body: `nope`, status: 400,
			want: []string{`"data":null`, `"code":400`}},
		{name: "no token", opts: Options{Token: "t"}, method: "POST", path: "/1.0/customer/create", body: profile, status: 401,
			want: []string{`"code":401`}},
	})
}

// One customer, four dialects: a profile update shows through the member dialect.
func TestDialectsShareTheCustomer(t *testing.T) {
	c, base := start(t, Options{AcceptUnknownCodes: true})
	r := mustSend(t, "POST", base+"/customers_location?pos_id=shop1", map[string]any{"_id": newID, "phone": phone, "name": "A"})
	if r.status != 200 {
		t.Fatal(r.body)
	}
	mustSend(t, "POST", base+"/1.0/customer/update", map[string]any{"_id": newID, "phone": phone, "full_name": "B", "gender": "female", "dob": "2000-01-31"})
	data := decodeMap(t, mustSend(t, "GET", base+"/customers_location?phone=0945350398&pos_id=shop1", nil).body)["data"].(map[string]any)
	if data["name"] != "B" || data["gender"] != "2" || data["birthday"] != "01-31" || data["year_birthday"] != "2000" {
		t.Errorf("member after profile update = %v", data)
	}
	mustSend(t, "POST", base+"/accumulate", map[string]any{"code": "C1", "data": map[string]any{"_id": newID, "phones": []any{map[string]any{"value": phone}}}})
	var hist []map[string]any
	_ = json.Unmarshal([]byte(mustSend(t, "GET", base+"/history-point?phone="+phone, nil).body), &hist)
	if len(hist) != 1 || hist[0]["contact"].(map[string]any)["id"] != newID || hist[0]["contact"].(map[string]any)["name"] != "B" {
		t.Errorf("history = %v", hist)
	}
	if n := len(c.Applied()); n != 3 {
		t.Errorf("applied %d writes, want 3", n)
	}
}

// ---- recording and idempotency ----

func TestIdempotentDuplicateIsAppliedOnce(t *testing.T) {
	c, base := start(t, Options{AcceptUnknownCodes: true})
	body := map[string]any{"code": "C1", "data": map[string]any{"phones": []any{map[string]any{"value": phone}}}}
	first := mustSend(t, "POST", base+"/accumulate", body, "Idempotency-Key", "evt-1", "X-Edge-Id", "edge-a")
	second := mustSend(t, "POST", base+"/accumulate", body, "Idempotency-Key", "evt-1", "X-Edge-Id", "edge-a")
	if first.status != 200 || second.status != 200 || first.body != second.body {
		t.Fatalf("first %d %s, replay %d %s", first.status, first.body, second.status, second.body)
	}
	if n := c.AppliedCount("evt-1"); n != 1 {
		t.Errorf("AppliedCount = %d, want 1", n)
	}
	if st := c.Stats(); st != (Stats{Received: 2, Applied: 1, Duplicates: 1}) {
		t.Errorf("Stats = %+v", st)
	}
	rec := c.Received()
	if rec[0].EdgeID != "edge-a" || rec[0].IdempotencyKey != "evt-1" || !rec[0].Applied || rec[1].Applied || !rec[1].Duplicate ||
		rec[1].Status != 200 || !bytes.Equal(rec[1].Body, mustJSON(body)) {
		t.Errorf("Received = %+v", rec)
	}
	// Without a key the same code is a second, failing accumulate.
	if r := mustSend(t, "POST", base+"/accumulate", body); r.status != 409 {
		t.Errorf("keyless repeat = %d %s, want 409", r.status, r.body)
	}
}

func TestConcurrentDuplicatesAreAppliedOnce(t *testing.T) {
	c, base := start(t, Options{})
	const n = 20
	bodies := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := send(newClient(5*time.Second), "POST", base+"/redeem",
				map[string]any{"code": "G", "data": map[string]any{"phone": phone}}, "Idempotency-Key", "evt-x")
			if err != nil || r.status != 200 {
				t.Errorf("request %d: %v %d", i, err, r.status)
			}
			bodies[i] = r.body
		})
	}
	wg.Wait()
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Fatalf("answers differ: %s vs %s", b, bodies[0])
		}
	}
	if got := c.AppliedCount("evt-x"); got != 1 {
		t.Errorf("AppliedCount = %d, want 1", got)
	}
	if st := c.Stats(); st.Applied != 1 || st.Duplicates != n-1 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestFailedAttemptLeavesKeyFree(t *testing.T) {
	c, base := start(t, Options{})
	c.FailNext(1, 503)
	body := map[string]any{"phone": phone}
	if r := mustSend(t, "POST", base+"/customers_location?pos_id=s", body, "Idempotency-Key", "k"); r.status != 503 {
		t.Fatalf("status %d", r.status)
	}
	if r := mustSend(t, "POST", base+"/customers_location?pos_id=s", body, "Idempotency-Key", "k"); r.status != 200 {
		t.Fatalf("retry status %d %s", r.status, r.body)
	}
	if got := c.AppliedCount("k"); got != 1 {
		t.Errorf("AppliedCount = %d", got)
	}
}

// ---- faults ----

func TestResetAfterIsAppliedButUnanswered(t *testing.T) {
	c, base := start(t, Options{})
	c.ResetAfterNext(1)
	body := map[string]any{"_id": newID, "phone": phone}
	_, err := send(newClient(5*time.Second), "POST", base+"/customers_location?pos_id=shop1", body, "Idempotency-Key", "evt-7")
	if err == nil {
		t.Fatal("client got an answer; want a dropped connection")
	}
	if got := c.AppliedCount("evt-7"); got != 1 {
		t.Fatalf("AppliedCount = %d, want 1", got)
	}
	rec := c.Received()[0]
	if rec.Outcome != OutcomeResetAfter || rec.Status != 200 || !rec.Applied {
		t.Errorf("record = %+v", rec)
	}
	// The retry is answered from the idempotency store, as the first attempt would have been.
	r := mustSend(t, "POST", base+"/customers_location?pos_id=shop1", body, "Idempotency-Key", "evt-7")
	if r.status != 200 || !strings.Contains(r.body, newID) {
		t.Errorf("retry = %d %s", r.status, r.body)
	}
	if st := c.Stats(); st.Applied != 1 || st.Duplicates != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestResetBeforeAndDown(t *testing.T) {
	c, base := start(t, Options{})
	c.ResetBeforeNext(1)
	url := base + "/customers_location?pos_id=shop1"
	if _, err := send(newClient(5*time.Second), "POST", url, map[string]any{"phone": phone}, "Idempotency-Key", "a"); err == nil {
		t.Fatal("want a connection error")
	}
	if c.AppliedCount("a") != 0 || c.Received()[0].Outcome != OutcomeResetBefore {
		t.Errorf("reset-before applied or misrecorded: %+v", c.Received())
	}
	if r := mustSend(t, "POST", url, map[string]any{"phone": phone}, "Idempotency-Key", "a"); r.status != 200 {
		t.Errorf("after the fault: %d", r.status)
	}

	c.SetDown(true)
	for range 3 {
		if _, err := send(newClient(5*time.Second), "GET", base+"/history-point?phone="+phone, nil); err == nil {
			t.Fatal("down: want a connection error")
		}
	}
	if r := mustSend(t, "GET", base+"/_fake/stats", nil); r.status != 200 {
		t.Errorf("control endpoint while down: %d", r.status)
	}
	c.SetDown(false)
	if r := mustSend(t, "GET", base+"/history-point?phone="+phone, nil); r.status != 200 {
		t.Errorf("up again: %d", r.status)
	}
}

func TestFailNext(t *testing.T) {
	c, base := start(t, Options{})
	c.FailNext(2, 503)
	r1 := mustSend(t, "POST", base+"/customers_location?pos_id=s", map[string]any{"phone": phone})
	r2 := mustSend(t, "POST", base+"/redeem", map[string]any{"code": "G", "data": map[string]any{"phone": phone}})
	r3 := mustSend(t, "POST", base+"/redeem", map[string]any{"code": "G", "data": map[string]any{"phone": phone}})
	if r1.status != 503 || !strings.Contains(r1.body, `"status":503`) || !strings.Contains(r1.body, `"data":null`) {
		t.Errorf("member failure = %d %s", r1.status, r1.body)
	}
	if r2.status != 503 || !strings.Contains(r2.body, `"success":0`) {
		t.Errorf("loyalty failure = %d %s", r2.status, r2.body)
	}
	if r3.status != 200 {
		t.Errorf("third = %d", r3.status)
	}
	if st := c.Stats(); st.Received != 3 || st.Applied != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestRateLimitCarriesRetryAfter(t *testing.T) {
	c, base := start(t, Options{})
	for _, tc := range []struct {
		after time.Duration
		want  string
	}{{1500 * time.Millisecond, "2"}, {0, "1"}, {3 * time.Second, "3"}} {
		c.RateLimitNext(1, tc.after)
		r := mustSend(t, "POST", base+"/api/crm/type/create", map[string]any{})
		if r.status != 429 || r.header.Get("Retry-After") != tc.want || !strings.Contains(r.body, `"error":5`) {
			t.Errorf("RateLimitNext(1, %v) = %d Retry-After %q %s", tc.after, r.status, r.header.Get("Retry-After"), r.body)
		}
	}
	if r := mustSend(t, "POST", base+"/api/crm/type/create", map[string]any{}); r.status != 400 {
		t.Errorf("after the limit: %d", r.status)
	}
}

func TestRejections(t *testing.T) {
	c, base := start(t, Options{AcceptUnknownCodes: true})
	c.RejectCode("BAD", 422)
	c.RejectPath("post /customers_location", 400)
	contact := map[string]any{"phones": []any{map[string]any{"value": phone}}}

	r := mustSend(t, "POST", base+"/accumulate", map[string]any{"code": "BAD", "data": contact}, "Idempotency-Key", "r1")
	if r.status != 422 || r.body != `{"success":0,"message":"rejected by central","error":"rejected"}` {
		t.Errorf("rejected code = %d %s", r.status, r.body)
	}
	if r := mustSend(t, "POST", base+"/accumulate", map[string]any{"code": "GOOD", "data": contact}); r.status != 200 {
		t.Errorf("other code = %d %s", r.status, r.body)
	}
	if r := mustSend(t, "POST", base+"/customers_location?pos_id=s", map[string]any{"phone": phone}); r.status != 400 ||
		!strings.Contains(r.body, `"message":"rejected by central"`) {
		t.Errorf("rejected path = %d %s", r.status, r.body)
	}
	if r := mustSend(t, "GET", base+"/customers_location?pos_id=s&phone="+phone, nil); r.status != 404 {
		t.Errorf("GET on a POST-only rule = %d", r.status)
	}
	if c.AppliedCount("r1") != 0 {
		t.Error("a rejected request was applied")
	}
	c.Reset()
	if r := mustSend(t, "POST", base+"/accumulate", map[string]any{"code": "BAD", "data": contact}, "Idempotency-Key", "r1"); r.status != 200 {
		t.Errorf("after Reset = %d %s", r.status, r.body)
	}
}

func TestBlackHole(t *testing.T) {
	c, base := start(t, Options{})
	c.BlackHoleNext(1)
	began := time.Now()
	_, err := send(newClient(200*time.Millisecond), "POST", base+"/redeem",
		map[string]any{"code": "G", "data": map[string]any{"phone": phone}}, "Idempotency-Key", "bh")
	if err == nil {
		t.Fatal("black-holed request got an answer")
	}
	if el := time.Since(began); el > 2*time.Second {
		t.Errorf("timed out after %v", el)
	}
	if rec := c.Received(); rec[0].Outcome != OutcomeBlackHole || c.AppliedCount("bh") != 0 {
		t.Errorf("record = %+v", rec)
	}
	// The client hung up, so the fake lets go of the connection.
	eventually(t, "the connection to be released", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.held) == 0
	})
}

func TestCloseReleasesBlackHoledConnection(t *testing.T) {
	c, base, err := NewServer(Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.BlackHoleNext(1)
	c.SetLatency(time.Hour) // a second request sleeping out latency must be released too
	errs := make(chan error, 2)
	for _, path := range []string{"/redeem", "/history-point?phone=" + phone} {
		go func() {
			_, err := send(newClient(0), "POST", base+path, `{}`)
			errs <- err
		}()
	}
	eventually(t, "the request to be black-holed", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.held) == 1
	})
	time.Sleep(20 * time.Millisecond) // let the second request start its wait
	began := time.Now()
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if el := time.Since(began); el > time.Second {
		t.Errorf("Close took %v", el)
	}
	for range 2 {
		select {
		case err := <-errs:
			if err == nil {
				t.Error("a client got an answer from a closed fake")
			}
		case <-time.After(2 * time.Second):
			t.Fatal("a client is still waiting after Close")
		}
	}
	// Close waited for every handler, so none of the fake's code is left running.
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, fn := range []string{"(*CRM).blackHole", "(*CRM).wait", "(*CRM).ServeHTTP"} {
		if strings.Contains(stacks, fn) {
			t.Errorf("a goroutine is still in %s after Close", fn)
		}
	}
}

func TestLatency(t *testing.T) {
	c, base := start(t, Options{})
	c.SetLatency(300 * time.Millisecond)
	_, err := send(newClient(100*time.Millisecond), "POST", base+"/redeem",
		map[string]any{"code": "G", "data": map[string]any{"phone": phone}}, "Idempotency-Key", "slow")
	if err == nil {
		t.Fatal("want a client timeout")
	}
	eventually(t, "the abandoned request to be recorded", func() bool { return len(c.Received()) == 1 })
	if rec := c.Received()[0]; rec.Outcome != OutcomeCanceled || c.AppliedCount("slow") != 0 {
		t.Errorf("abandoned request = %+v", rec)
	}

	c.SetLatency(150 * time.Millisecond)
	began := time.Now()
	r := mustSend(t, "GET", base+"/history-point?phone="+phone, nil)
	if el := time.Since(began); r.status != 200 || el < 150*time.Millisecond {
		t.Errorf("slow request: %d after %v", r.status, el)
	}
}

func TestFaultsTakeTurns(t *testing.T) {
	c, base := start(t, Options{})
	c.FailNext(1, 500)
	c.RateLimitNext(1, time.Second)
	got := []int{}
	for range 3 {
		got = append(got, mustSend(t, "GET", base+"/history-point?phone="+phone, nil).status)
	}
	if !slices.Equal(got, []int{500, 429, 200}) {
		t.Errorf("statuses = %v, want [500 429 200]", got)
	}
}

// ---- control endpoints (process mode) ----

func TestControlEndpoints(t *testing.T) {
	c, base := start(t, Options{Token: "tok"})
	auth := []string{"Authorization", "Bearer tok"}
	ctl := func(path string, body any) reply {
		t.Helper()
		r := mustSend(t, "POST", base+"/_fake/"+path, body)
		if r.status != 200 {
			t.Fatalf("POST /_fake/%s = %d %s", path, r.status, r.body)
		}
		return r
	}

	ctl("catalog", map[string]any{
		"products": []any{map[string]any{"code": "TIVI01", "name": "Tivi", "score": 100}},
		"codes":    []any{map[string]any{"code": "C1", "product_code": "TIVI01", "serial": "S1"}},
		"gifts":    []any{map[string]any{"code": "DAUMAY01", "name": "Đầu máy", "score": 10}},
	})
	ctl("members", map[string]any{"pos_id": "shop1", "member": map[string]any{"phone": phone, "name": "M"}})
	ctl("history", map[string]any{"phone": phone, "entries": []any{map[string]any{"type": 1, "score": 5, "code": "OLD", "createdAt": 1692084490615}}})

	if r := mustSend(t, "GET", base+"/customers_location?pos_id=shop1&phone="+phone, nil, auth...); !strings.Contains(r.body, `"name":"M"`) {
		t.Errorf("seeded member = %s", r.body)
	}
	if r := mustSend(t, "GET", base+"/history-point?phone="+phone, nil, auth...); !strings.Contains(r.body, `"createdAt":1692084490615`) {
		t.Errorf("seeded history = %s", r.body)
	}

	r := ctl("faults", map[string]any{"fail_next": 1, "fail_status": 503, "rate_limit_next": 1, "retry_after_s": 3,
		"reject_codes": map[string]int{"X": 422}, "reject_paths": map[string]int{"/1.0/customer/create": 400}})
	if !strings.Contains(r.body, `"fail_next":1`) || !strings.Contains(r.body, `"reject_codes":{"X":422}`) {
		t.Errorf("faults echo = %s", r.body)
	}
	acc := map[string]any{"code": "C1", "data": map[string]any{"phones": []any{map[string]any{"value": phone}}}}
	if r := mustSend(t, "POST", base+"/accumulate", acc, auth...); r.status != 503 {
		t.Errorf("fail_next: %d", r.status)
	}
	if r := mustSend(t, "POST", base+"/accumulate", acc, auth...); r.status != 429 || r.header.Get("Retry-After") != "3" {
		t.Errorf("rate_limit_next: %d %q", r.status, r.header.Get("Retry-After"))
	}
	if r := mustSend(t, "POST", base+"/accumulate", map[string]any{"code": "X", "data": acc["data"]}, auth...); r.status != 422 {
		t.Errorf("reject_codes: %d", r.status)
	}
	if r := mustSend(t, "POST", base+"/1.0/customer/create", map[string]any{"email": "a@b.vn"}, auth...); r.status != 400 || !strings.Contains(r.body, `"code":400`) {
		t.Errorf("reject_paths: %d %s", r.status, r.body)
	}
	if r := mustSend(t, "POST", base+"/accumulate", acc, append(auth, "Idempotency-Key", "e1", "X-Edge-Id", "edge-9")...); r.status != 200 ||
		!strings.Contains(r.body, `"score":100`) {
		t.Errorf("catalog accumulate: %d %s", r.status, r.body)
	}

	ctl("faults", map[string]any{"down": true})
	if _, err := send(newClient(time.Second), "GET", base+"/history-point?phone="+phone, nil, auth...); err == nil {
		t.Error("down: want a connection error")
	}
	ctl("clear-faults", nil)
	if r := mustSend(t, "GET", base+"/_fake/faults", nil); !strings.Contains(r.body, `"down":false`) || !strings.Contains(r.body, `"fail_next":0`) {
		t.Errorf("faults after clear = %s", r.body)
	}

	var received, applied []Request
	for _, q := range []struct {
		path string
		into *[]Request
	}{{"received", &received}, {"applied", &applied}} {
		r := mustSend(t, "GET", base+"/_fake/"+q.path, nil)
		if err := json.Unmarshal([]byte(r.body), q.into); err != nil {
			t.Fatalf("/_fake/%s: %v", q.path, err)
		}
		if q.path == "applied" && !strings.Contains(r.body, `"body":"{\"code\":\"C1\"`) {
			t.Errorf("body is not a JSON string: %s", r.body)
		}
	}
	if len(received) != 8 || len(applied) != 1 {
		t.Fatalf("received %d, applied %d; want 8, 1", len(received), len(applied))
	}
	if a := applied[0]; a.IdempotencyKey != "e1" || a.EdgeID != "edge-9" || a.Path != "/accumulate" || a.Status != 200 ||
		!strings.HasPrefix(string(a.Body), `{"code":"C1"`) {
		t.Errorf("applied = %+v", a)
	}
	if !slices.EqualFunc(received, c.Received(), func(a, b Request) bool {
		return a.Path == b.Path && a.Outcome == b.Outcome && bytes.Equal(a.Body, b.Body) && a.Time.Equal(b.Time)
	}) {
		t.Error("/_fake/received does not round-trip Received()")
	}
	if r := mustSend(t, "GET", base+"/_fake/stats", nil); r.body != "{\"received\":8,\"applied\":1,\"duplicates\":0}\n" {
		t.Errorf("stats = %s", r.body)
	}
	if r := mustSend(t, "POST", base+"/_fake/faults", `{"down":`); r.status != 400 {
		t.Errorf("malformed control JSON = %d", r.status)
	}
}
