package edge_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"crmedge/edge"
)

// TestOneCustomerFourDoors follows one customer through every dialect:
// created by the member API, changed by the profile API, earning points by
// its phone through /accumulate, given a customer type, and read back through
// each dialect with the fields mapped as SPEC §1 says.
func TestOneCustomerFourDoors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// The loyalty seed's catalog: product TIVI01 worth 100, code TIVInpmx8b98pfg.
	h.mustDo(200, "PUT", "/admin/v1/products", "admin", `[{"code":"TIVI01","name":"Tivi","score":100}]`)
	h.mustDo(200, "PUT", "/admin/v1/codes", "admin", `[{"code":"TIVInpmx8b98pfg","product_code":"TIVI01","serial":"npmx8b98pfg"}]`)
	h.mustDo(200, "POST", "/api/crm/type/create", "", `{"vbot_id":"v1","project_code":"p1","type_no":"VIP","type_name":"Very important"}`)

	// 1. The member door: the member seed's customer at pos1.
	v := decode(t, h.mustDo(200, "POST", "/customers_location?pos_id=pos1", "pos1", seedMember))
	id, _ := v["data"].(map[string]any)["_id"].(string)
	if !hexID.MatchString(id) {
		t.Fatalf("member create: %v", v)
	}
	created := h.clock.Now()

	// 2. The profile door, an hour later, with the till's own token.
	h.clock.Advance(3600e9)
	h.mustDo(200, "POST", "/1.0/customer/update", "apikey:pos1", `{"_id":"`+id+`","email":"phundk59uet@gmail.com",
		"full_name":"Garnacho","first_name":"Alejandro","last_name":"Garnacho","gender":"female","dob":"1990-12-24",
		"facebook_url":"https://fb.com/g","twitter_url":"https://x.com/g","company":"MU","tags":["t1"],
		"custom_fields":[{"name":"size","value":"L"}]}`)

	// 3. The loyalty door: points by the phone, in another written form.
	h.clock.Advance(60e9)
	earned := h.clock.Now()
	v = decode(t, h.mustDo(200, "POST", "/accumulate?pos_id=pos1", "pos1",
		`{"code":"TIVInpmx8b98pfg","data":{"name":"Someone","phones":[{"type":"Work","value":"+84 945 350 398"}]}}`))
	if v["success"] != float64(1) || v["score"] != float64(100) || v["balance"] != float64(100) {
		t.Fatalf("accumulate: %v", v)
	}

	// 4. A customer type, through the member door.
	h.mustDo(200, "PUT", "/customers_location?pos_id=pos1", "pos1", `{"phone":"0945350398","type_no":"VIP"}`)
	updated := h.clock.Now()

	// Member view.
	m := memberOf(t, h, "0945350398")
	wantFields(t, "member", m, map[string]any{
		"_id": id, "customerId": 1, "name": "Garnacho", "gender": "2", "birthday": "12-24", "year_birthday": "1990",
		"phone": "0945350398", "email": "phundk59uet@gmail.com", "facebook": "https://fb.com/g", "twitter": "https://x.com/g",
		"home_town": "Ha Noi", "address": "Phao Dai Lang", "fb_id": "152134088", "relationship_status": "Chua ket hon",
		"type_no": "VIP", "vbot_id": "v1", "project_code": "p1",
		"created_at": created.Local().Format("02-01-2006"), "updated_at": updated.Local().Format("02-01-2006")})

	// Profile view.
	p := profileOf(t, h, id)
	wantFields(t, "profile", p, map[string]any{
		"_id": id, "customerId": 1, "name": "Garnacho", "full_name": "Garnacho", "first_name": "Alejandro",
		"last_name": "Garnacho", "gender": "female", "dob": "1990-12-24T00:00:00.000Z", "dob_year": 1990,
		"dob_month": 11, "dob_day": 24, "dob_month_day": "1124", "phone": "0945350398", "email": "phundk59uet@gmail.com",
		"facebook_url": "https://fb.com/g", "twitter_url": "https://x.com/g", "home_town": "Ha Noi",
		"address": "Phao Dai Lang", "fb_id": "152134088", "relationship_status": "Chua ket hon", "company": "MU",
		"tags": []string{"t1"}, "custom_fields": []map[string]any{{"name": "size", "value": "L"}},
		"type_no": "VIP", "vbot_id": "v1", "project_code": "p1",
		"created_at": created.UTC().Format("2006-01-02T15:04:05.000Z"),
		"updated_at": updated.UTC().Format("2006-01-02T15:04:05.000Z")})

	// Loyalty views: history by phone and by email, and the balance.
	for _, q := range []string{"phone=0945350398", "email=PHUNDK59UET@gmail.com"} {
		var items []map[string]any
		if err := json.Unmarshal(h.mustDo(200, "GET", "/history-point?"+q, "pos1", ""), &items); err != nil || len(items) != 1 {
			t.Fatalf("history %s: %v %v", q, items, err)
		}
		it := items[0]
		wantFields(t, "history "+q, it, map[string]any{"type": 1, "score": 100, "status": 1, "code": "TIVInpmx8b98pfg",
			"serialNumber": "npmx8b98pfg", "createdAt": earned.UnixMilli(), "org": "62c10674cbe832bc9245a5b8"})
		wantFields(t, "history product", it["product"].(map[string]any), map[string]any{"code": "TIVI01", "name": "Tivi"})
		contact := it["contact"].(map[string]any)
		wantFields(t, "history contact", contact, map[string]any{"name": "Garnacho", "lastname": "Garnacho",
			"customerId": 1, "id": id})
		phones, _ := contact["phones"].([]any)
		emails, _ := contact["emails"].([]any)
		if len(phones) != 1 || phones[0].(map[string]any)["value"] != "0945350398" {
			t.Errorf("history contact phones: %v", phones)
		}
		if len(emails) != 1 || emails[0].(map[string]any)["value"] != "phundk59uet@gmail.com" {
			t.Errorf("history contact emails: %v", emails)
		}
	}
	for _, q := range []string{"phone=%2B84945350398", "email=phundk59uet@gmail.com"} {
		wantFields(t, "balance "+q, decode(t, h.mustDo(200, "GET", "/balance?"+q, "pos1", "")),
			map[string]any{"success": 1, "balance": 100, "pending": 0})
	}
}

// queueingUpstream is a central CRM that is never reached: writes are queued
// for it and nothing is read through (its last attempt failed).
type queueingUpstream struct{}

func (queueingUpstream) Status() edge.UpstreamStatus {
	return edge.UpstreamStatus{LastError: "connection refused"}
}
func (queueingUpstream) FetchMember(context.Context, string, string) (*edge.Customer, error) {
	return nil, nil
}
func (queueingUpstream) FetchHistory(context.Context, edge.Contact) ([]edge.LedgerEntry, error) {
	return nil, nil
}
func (queueingUpstream) Accumulate(context.Context, edge.Call) (int, []byte, error) {
	return 0, nil, context.DeadlineExceeded
}

// TestProfileAndTypeWritesAreQueued checks that each accepted profile and type
// write is one outbox event replaying the same call, and a refused one none.
func TestProfileAndTypeWritesAreQueued(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *harnessOptions) { o.upstream = queueingUpstream{} })
	v := decode(t, h.mustDo(201, "POST", "/1.0/customer/create", "apikey:admin", `{"email":"a@b.vn"}`))
	id := v["data"].(map[string]any)["_id"].(string)
	h.mustDo(200, "POST", "/1.0/customer/update", "apikey:admin", `{"_id":"`+id+`","email":"a@b.vn","company":"C"}`)
	h.mustDo(409, "POST", "/1.0/customer/create", "apikey:admin", `{"email":"a@b.vn"}`)
	for _, c := range []struct{ path, body string }{
		{"/api/crm/type/create", seedTypeCreate}, {"/api/crm/type/update", seedTypeUpdate},
		{"/api/crm/type/updateNo", seedTypeUpdateNo}, {"/api/crm/type/delete", seedTypeDelete},
	} {
		h.mustDo(200, "POST", c.path, "", c.body)
	}
	h.mustDo(404, "POST", "/api/crm/type/delete", "", seedTypeDelete)
	evs, err := h.svc.OutboxEvents(context.Background(), edge.OutboxFilter{State: -1, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ kind, path string }{
		{edge.KindProfileCreate, "/1.0/customer/create"}, {edge.KindProfileUpdate, "/1.0/customer/update"},
		{edge.KindTypeCreate, "/api/crm/type/create"}, {edge.KindTypeUpdate, "/api/crm/type/update"},
		{edge.KindTypeUpdateNo, "/api/crm/type/updateNo"}, {edge.KindTypeDelete, "/api/crm/type/delete"},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, w := range want {
		if evs[i].Kind != w.kind || evs[i].Call.Path != w.path || evs[i].Call.Method != "POST" {
			t.Errorf("event %d: %s %s %s, want %s POST %s", i, evs[i].Kind, evs[i].Call.Method, evs[i].Call.Path, w.kind, w.path)
		}
	}
	// The forwarded create carries the `_id` minted here, so the central keeps it.
	if !strings.Contains(string(evs[0].Call.Body), `"_id":"`+id+`"`) {
		t.Errorf("forwarded create lacks its _id: %s", evs[0].Call.Body)
	}
}
