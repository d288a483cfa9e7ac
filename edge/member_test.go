package edge_test

import (
	"strings"
	"testing"
)

// seedMember is the member seed's example as a POST body.
const seedMember = `{"name":"Ly Tu Quang Thang","phone":"0945350398","email":"phundk59uet@gmail.com","gender":"1",
"relationship_status":"Chua ket hon","birthday":"05-30","year_birthday":"1996","home_town":"Ha Noi",
"address":"Phao Dai Lang","fb_id":"152134088","facebook":"https://www.facebook.com/CRMX.com.vn/"}`

func createSeedMember(t *testing.T, h *harness) {
	t.Helper()
	h.mustDo(200, "POST", "/customers_location?pos_id=pos1", "", seedMember)
}

func TestMemberScenarios(t *testing.T) {
	seedFields := []string{`"status":200`, `"message":"Customer info"`, `"name":"Ly Tu Quang Thang"`,
		`"phone":"0945350398"`, `"email":"phundk59uet@gmail.com"`, `"gender":"1"`, `"birthday":"05-30"`,
		`"year_birthday":"1996"`, `"home_town":"Ha Noi"`, `"address":"Phao Dai Lang"`, `"fb_id":"152134088"`,
		`"facebook":"https://www.facebook.com/CRMX.com.vn/"`, `"relationship_status":"Chua ket hon"`,
		`"client_mac":[]`, `"twitter":null`, `"age_range":null`, `"created_at":"22-11-2026"`, `"updated_at":"22-11-2026"`}
	runScenarios(t, []scenario{
		{name: "create seed member", method: "POST", url: "/customers_location?pos_id=pos1", body: seedMember,
			status: 200, contains: []string{`"status":200`, `"status_code":200`, `"message":"Success!"`, `"_id":"`}},
		{name: "get by national form", setup: createSeedMember, method: "GET",
			url: "/customers_location?phone=0945350398&pos_id=pos1", status: 200, contains: seedFields},
		{name: "get by +84 form", setup: createSeedMember, method: "GET",
			url: "/customers_location?phone=%2B84945350398&pos_id=pos1", status: 200, contains: seedFields},
		{name: "get by 84 form", setup: createSeedMember, method: "GET",
			url: "/customers_location?phone=84945350398&pos_id=pos1", status: 200, contains: seedFields},
		{name: "get with spaces", setup: createSeedMember, method: "GET",
			url: "/customers_location?phone=0945%20350%20398&pos_id=pos1", status: 200, contains: seedFields},
		{name: "get without pos_id finds the customer anywhere", setup: createSeedMember, method: "GET",
			url: "/customers_location?phone=0945350398", status: 200, contains: seedFields},
		{name: "get at another location is not found", setup: createSeedMember, method: "GET",
			url: "/customers_location?phone=0945350398&pos_id=pos2", status: 404,
			contains: []string{`{"status":404,"message":"Customer not found","data":null}`}},
		{name: "get unknown phone", method: "GET", url: "/customers_location?phone=0912345678&pos_id=pos1", status: 404,
			contains: []string{`"message":"Customer not found"`, `"data":null`}},
		{name: "get bad phone", method: "GET", url: "/customers_location?phone=12ab&pos_id=pos1", status: 400,
			contains: []string{`"status":400`, `phone`}},
		{name: "get missing phone", method: "GET", url: "/customers_location?pos_id=pos1", status: 400,
			contains: []string{`"status":400`, `phone is required`}},
		{name: "create twice at one location conflicts", setup: createSeedMember, method: "POST",
			url: "/customers_location?pos_id=pos1", body: `{"phone":"+84 945 350 398","name":"X"}`, status: 409,
			contains: []string{`"status":409`, `already a member`}},
		{name: "known phone joins another location with fields applied", setup: createSeedMember, method: "POST",
			url: "/customers_location?pos_id=pos2", body: `{"phone":"0945350398","twitter":"https://twitter.com/t"}`, status: 200,
			check: func(t *testing.T, h *harness, _ []byte) {
				b := h.mustDo(200, "GET", "/customers_location?phone=0945350398&pos_id=pos2", "", "")
				for _, want := range []string{`"twitter":"https://twitter.com/t"`, `"name":"Ly Tu Quang Thang"`} {
					if !strings.Contains(string(b), want) {
						t.Errorf("after join: body lacks %s: %s", want, b)
					}
				}
			}},
		{name: "create without phone", method: "POST", url: "/customers_location?pos_id=pos1", body: `{"name":"A"}`,
			status: 400, contains: []string{`"status":400`, `phone is required`}},
		{name: "create with unparseable phone", method: "POST", url: "/customers_location?pos_id=pos1",
			body: `{"phone":"023232"}`, status: 400, contains: []string{`phone is not a valid phone number`}},
		{name: "create with a number for phone", method: "POST", url: "/customers_location?pos_id=pos1",
			body: `{"phone":945350398}`, status: 400, contains: []string{`phone must be a string`}},
		{name: "create with gender 3", method: "POST", url: "/customers_location?pos_id=pos1",
			body: `{"phone":"0945350398","gender":"3"}`, status: 400, contains: []string{`gender must be`}},
		{name: "gender as a number is read", method: "POST", url: "/customers_location?pos_id=pos1",
			body: `{"phone":"0945350398","gender":2}`, status: 200,
			check: func(t *testing.T, h *harness, _ []byte) {
				b := h.mustDo(200, "GET", "/customers_location?phone=0945350398&pos_id=pos1", "", "")
				if !strings.Contains(string(b), `"gender":"2"`) {
					t.Errorf("gender not stored: %s", b)
				}
			}},
		{name: "create with birthday 13-01", method: "POST", url: "/customers_location?pos_id=pos1",
			body: `{"phone":"0945350398","birthday":"13-01"}`, status: 400, contains: []string{`birthday must be a real date`}},
		{name: "create with birthday 02-30", method: "POST", url: "/customers_location?pos_id=pos1",
			body: `{"phone":"0945350398","birthday":"02-30"}`, status: 400, contains: []string{`birthday`}},
		{name: "create with birthday 02-29 of a non-leap year", method: "POST", url: "/customers_location?pos_id=pos1",
			body: `{"phone":"0945350398","birthday":"02-29","year_birthday":"1995"}`, status: 400, contains: []string{`birthday`}},
		{name: "create with birthday 02-29 of a leap year", method: "POST", url: "/customers_location?pos_id=pos1",
			body: `{"phone":"0945350398","birthday":"02-29","year_birthday":"1996"}`, status: 200},
		{name: "create with a 2-digit year", method: "POST", url: "/customers_location?pos_id=pos1",
			body: `{"phone":"0945350398","year_birthday":"96"}`, status: 400, contains: []string{`year_birthday must be a 4-digit year`}},
		{name: "create with a bad email", method: "POST", url: "/customers_location?pos_id=pos1",
			body: `{"phone":"0945350398","email":"not-an-email"}`, status: 400, contains: []string{`email is not a valid address`}},
		{name: "create without pos_id", method: "POST", url: "/customers_location", body: seedMember,
			status: 400, contains: []string{`pos_id is required`}},
		{name: "email of another customer conflicts", setup: createSeedMember, method: "POST",
			url: "/customers_location?pos_id=pos1", body: `{"phone":"0912345678","email":"PHUNDK59UET@gmail.com"}`,
			status: 409, contains: []string{`email belongs to another customer`}},
		{name: "retired 11-digit prefix finds the new number", method: "POST", url: "/customers_location?pos_id=pos1",
			body: `{"phone":"01623456789","name":"Old Number"}`, status: 200,
			check: func(t *testing.T, h *harness, _ []byte) {
				b := h.mustDo(200, "GET", "/customers_location?phone=0323456789&pos_id=pos1", "", "")
				if !strings.Contains(string(b), `"phone":"0323456789"`) || !strings.Contains(string(b), `"name":"Old Number"`) {
					t.Errorf("renumbered phone not found: %s", b)
				}
			}},
		{name: "update changes only the fields present", setup: createSeedMember, method: "PUT",
			url: "/customers_location?pos_id=pos1", body: `{"phone":"+84945350398","name":"New Name","birthday":"12-31"}`,
			status: 200, contains: []string{`"status_code":200`, `"message":"Success!"`},
			check: func(t *testing.T, h *harness, _ []byte) {
				b := string(h.mustDo(200, "GET", "/customers_location?phone=0945350398&pos_id=pos1", "", ""))
				for _, want := range []string{`"name":"New Name"`, `"birthday":"12-31"`, `"year_birthday":"1996"`, `"address":"Phao Dai Lang"`, `"email":"phundk59uet@gmail.com"`} {
					if !strings.Contains(b, want) {
						t.Errorf("after update: lacks %s: %s", want, b)
					}
				}
			}},
		{name: "update of an unknown phone", method: "PUT", url: "/customers_location?pos_id=pos1",
			body: `{"phone":"0945350398","name":"X"}`, status: 404, contains: []string{`"status":404`, `Customer not found`}},
		{name: "update makes the customer a member of the location", setup: createSeedMember, method: "PUT",
			url: "/customers_location?pos_id=pos9", body: `{"phone":"0945350398","address":"Somewhere"}`, status: 200,
			check: func(t *testing.T, h *harness, _ []byte) {
				h.mustDo(200, "GET", "/customers_location?phone=0945350398&pos_id=pos9", "", "")
			}},
		{name: "type_no may be a number", method: "POST", url: "/customers_location?pos_id=pos1",
			setup: func(t *testing.T, h *harness) {
				h.mustDo(200, "POST", "/api/crm/type/create", "", `{"vbot_id":"v1","project_code":"p1","type_name":"Gold","type_no":"7"}`)
			},
			body: `{"phone":"0945350398","type_no":7}`, status: 200,
			check: func(t *testing.T, h *harness, _ []byte) {
				b := string(h.mustDo(200, "GET", "/customers_location?phone=0945350398&pos_id=pos1", "", ""))
				if !strings.Contains(b, `"type_no":"7"`) || !strings.Contains(b, `"vbot_id":"v1"`) {
					t.Errorf("type not set: %s", b)
				}
			}},
		{name: "unknown type_no", method: "POST", url: "/customers_location?pos_id=pos1",
			body: `{"phone":"0945350398","type_no":"nope"}`, status: 400, contains: []string{`type_no`}},
		{name: "no token", method: "GET", url: "/customers_location?phone=0945350398", token: "none", status: 401,
			contains: []string{`"status":401`, `Missing token`}},
		{name: "bad token", method: "GET", url: "/customers_location?phone=0945350398", token: "crm_nope", status: 401,
			contains: []string{`"status":401`, `Invalid or revoked token`}},
		{name: "pos token at its location", method: "POST", url: "/customers_location?pos_id=pos1", token: "pos1",
			body: seedMember, status: 200},
		{name: "pos token at another location", method: "POST", url: "/customers_location?pos_id=pos2", token: "pos1",
			body: seedMember, status: 403, contains: []string{`"status":403`, `pos2`}},
		{name: "pos token reads another location", setup: createSeedMember, method: "GET",
			url: "/customers_location?phone=0945350398&pos_id=pos2", token: "pos1", status: 403},
		{name: "malformed JSON", method: "POST", url: "/customers_location?pos_id=pos1", body: `{"phone":`,
			status: 400, contains: []string{`"status":400`, `Malformed JSON`}},
		{name: "body over 1 MiB", method: "POST", url: "/customers_location?pos_id=pos1",
			body: `{"name":"` + strings.Repeat("a", 1<<20) + `","phone":"0945350398"}`, status: 413,
			contains: []string{`"status":413`}},
		{name: "over-long name", method: "POST", url: "/customers_location?pos_id=pos1",
			body: `{"phone":"0945350398","name":"` + strings.Repeat("n", 300) + `"}`, status: 400,
			contains: []string{`name is longer than 256`}},
		{name: "unknown fields are ignored", method: "POST", url: "/customers_location?pos_id=pos1",
			body: `{"phone":"0945350398","favourite_colour":"blue"}`, status: 200},
		{name: "standalone edge queues nothing", setup: createSeedMember, method: "PUT",
			url: "/customers_location?pos_id=pos1", body: `{"phone":"0945350398","name":"Q"}`, status: 200,
			check: func(t *testing.T, h *harness, _ []byte) {
				if n := h.outboxLen(); n != 0 {
					t.Errorf("standalone outbox holds %d events", n)
				}
			}},
	})
}
