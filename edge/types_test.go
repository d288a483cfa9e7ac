package edge_test

import (
	"strings"
	"testing"
)

// The customer-type seed's example bodies, verbatim (customer-type-api.txt).
// The seed gives no body for updateNo; seedTypeUpdateNo follows SPEC §4 and
// moves "sample string 4" to "sample string 3", the code the seed's delete
// example names.
const (
	seedTypeCreate = `{
  "vbot_id": "sample string 1",
  "project_code": "sample string 2",
  "type_name": "sample string 3",
  "type_no": "sample string 4"
}`
	seedTypeUpdate = seedTypeCreate
	seedTypeDelete = `{
  "vbot_id": "sample string 1",
  "project_code": "sample string 2",
  "type_no": "sample string 3"
}`
	seedTypeUpdateNo = `{
  "vbot_id": "sample string 1",
  "project_code": "sample string 2",
  "type_no": "sample string 4",
  "new_type_no": "sample string 3"
}`
	seedTypeList = "/api/crm/type/list?vbot_id=sample%20string%201&project_code=sample%20string%202"
)

// typeList returns a scope's types as the list endpoint shows them.
func typeList(t *testing.T, h *harness, url string) []map[string]any {
	t.Helper()
	b := h.mustDo(200, "GET", url, "", "")
	v := decode(t, b)
	items, ok := v["data"].([]any)
	if !ok || v["status"] != float64(1) || v["error"] != float64(0) {
		t.Fatalf("list: %s", b)
	}
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		out = append(out, it.(map[string]any))
	}
	return out
}

// typeBody builds a type write body in scope v1/p1.
func typeBody(fields ...string) string {
	parts := []string{`"vbot_id":"v1"`, `"project_code":"p1"`}
	for i := 0; i+1 < len(fields); i += 2 {
		parts = append(parts, `"`+fields[i]+`":"`+fields[i+1]+`"`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// holdVIP creates type VIP in v1/p1 and gives it to the member seed's customer.
func holdVIP(t *testing.T, h *harness) {
	t.Helper()
	h.mustDo(200, "POST", "/api/crm/type/create", "", typeBody("type_no", "VIP", "type_name", "Very important"))
	h.mustDo(200, "POST", "/customers_location?pos_id=pos1", "", withID(seedProfileID, `{"phone":"0945350398","type_no":"VIP"}`))
}

func TestCustomerTypeScenarios(t *testing.T) {
	t.Parallel()
	const (
		create   = "/api/crm/type/create"
		update   = "/api/crm/type/update"
		del      = "/api/crm/type/delete"
		updateNo = "/api/crm/type/updateNo"
		list     = "/api/crm/type/list?vbot_id=v1&project_code=p1"
	)
	seedCreated := post(200, create, "", seedTypeCreate)
	vip := post(200, create, "", typeBody("type_no", "VIP", "type_name", "Very important"))
	gold := post(200, create, "", typeBody("type_no", "GOLD", "type_name", "Gold"))
	ok := []string{`"status":1`, `"error":0`}
	runScenariosParallel(t, []scenario{
		// The seed's four calls with its example bodies.
		{name: "seed create", method: "POST", url: create, body: seedTypeCreate, status: 200,
			contains: []string{`{"status":1,"error":0,"message":"Customer type created","data":"`},
			check: func(t *testing.T, h *harness, body []byte) {
				id, _ := decode(t, body)["data"].(string)
				if !hexID.MatchString(id) {
					t.Errorf("data %q is not a type id", id)
				}
				got := typeList(t, h, seedTypeList)
				if len(got) != 1 || got[0]["id"] != id {
					t.Fatalf("list after create: %v", got)
				}
				wantFields(t, "listed", got[0], map[string]any{"vbot_id": "sample string 1", "project_code": "sample string 2",
					"type_no": "sample string 4", "type_name": "sample string 3", "created_at": "2026-11-22T10:00:00.000Z"})
			}},
		{name: "seed update", setup: seedCreated, method: "POST", url: update, body: seedTypeUpdate, status: 200,
			contains: []string{`{"status":1,"error":0,"message":"Customer type updated","data":"`}},
		{name: "update and updateNo stamp updated_at", setup: setups(vip, func(t *testing.T, h *harness) {
			h.clock.Advance(3600e9)
			h.mustDo(200, "POST", update, "", typeBody("type_no", "VIP", "type_name", "V2"))
			h.clock.Advance(3600e9)
		}), method: "POST", url: updateNo, body: typeBody("type_no", "VIP", "new_type_no", "V3"), status: 200,
			check: func(t *testing.T, h *harness, _ []byte) {
				got := typeList(t, h, list)
				if len(got) != 1 {
					t.Fatalf("list: %v", got)
				}
				wantFields(t, "type", got[0], map[string]any{"type_no": "V3", "type_name": "V2",
					"created_at": "2026-11-22T10:00:00.000Z", "updated_at": "2026-11-22T12:00:00.000Z"})
			}},
		{name: "seed updateNo", setup: seedCreated, method: "POST", url: updateNo, body: seedTypeUpdateNo, status: 200,
			contains: []string{`{"status":1,"error":0,"message":"Customer type code changed","data":"`},
			check: func(t *testing.T, h *harness, _ []byte) {
				got := typeList(t, h, seedTypeList)
				if len(got) != 1 || got[0]["type_no"] != "sample string 3" {
					t.Errorf("list after updateNo: %v", got)
				}
			}},
		{name: "seed delete", setup: setups(seedCreated, post(200, updateNo, "", seedTypeUpdateNo)),
			method: "POST", url: del, body: seedTypeDelete, status: 200,
			contains: []string{`{"status":1,"error":0,"message":"Customer type deleted","data":true}`},
			check: func(t *testing.T, h *harness, _ []byte) {
				if got := typeList(t, h, seedTypeList); len(got) != 0 {
					t.Errorf("list after delete: %v", got)
				}
			}},

		// Create.
		{name: "create an existing type_no", setup: vip, method: "POST", url: create,
			body: typeBody("type_no", "VIP", "type_name", "Again"), status: 409,
			contains: []string{`{"status":0,"error":3,"message":"Customer type \"VIP\" already exists in this vbot_id/project_code","data":null}`}},
		{name: "create the same type_no in another scope", setup: vip, method: "POST", url: create,
			body: `{"vbot_id":"v2","project_code":"p1","type_no":"VIP","type_name":"Other"}`, status: 200, contains: ok},
		{name: "create with numbers", method: "POST", url: create,
			body: `{"vbot_id":7,"project_code":"p1","type_no":10,"type_name":"Ten"}`, status: 200, contains: ok,
			check: func(t *testing.T, h *harness, _ []byte) {
				got := typeList(t, h, "/api/crm/type/list?vbot_id=7&project_code=p1")
				if len(got) != 1 || got[0]["type_no"] != "10" {
					t.Errorf("list: %v", got)
				}
			}},
		{name: "create trims the code", method: "POST", url: create, body: typeBody("type_no", " VIP ", "type_name", "V"),
			status: 200, check: func(t *testing.T, h *harness, _ []byte) {
				if got := typeList(t, h, list); len(got) != 1 || got[0]["type_no"] != "VIP" {
					t.Errorf("list: %v", got)
				}
			}},
		{name: "create without vbot_id", method: "POST", url: create, body: `{"project_code":"p1","type_no":"A","type_name":"A"}`,
			status: 400, contains: []string{`{"status":0,"error":1,"message":"vbot_id is required","data":null}`}},
		{name: "create without project_code", method: "POST", url: create, body: `{"vbot_id":"v1","type_no":"A","type_name":"A"}`,
			status: 400, contains: []string{`"error":1`, `"message":"project_code is required"`}},
		{name: "create without type_no", method: "POST", url: create, body: typeBody("type_name", "A"),
			status: 400, contains: []string{`"error":1`, `"message":"type_no is required"`}},
		{name: "create without type_name", method: "POST", url: create, body: typeBody("type_no", "A"),
			status: 400, contains: []string{`"error":1`, `"message":"type_name is required"`}},
		{name: "create with an over-long name", method: "POST", url: create,
			body: typeBody("type_no", "A", "type_name", strings.Repeat("n", 300)), status: 400,
			contains: []string{`"error":1`, `type_name is longer than 256 characters`}},
		{name: "create with an object for type_no", method: "POST", url: create,
			body: `{"vbot_id":"v1","project_code":"p1","type_no":{},"type_name":"A"}`, status: 400,
			contains: []string{`"error":1`, `type_no must be a string`}},

		// Update.
		{name: "update renames, holders see the new name", setup: holdVIP, method: "POST", url: update,
			body: typeBody("type_no", "VIP", "type_name", "Very very important"), status: 200, contains: ok,
			check: func(t *testing.T, h *harness, _ []byte) {
				got := typeList(t, h, list)
				if len(got) != 1 || got[0]["type_name"] != "Very very important" {
					t.Errorf("list: %v", got)
				}
				b := string(h.mustDo(200, "GET", "/customers_location?phone=0945350398", "", ""))
				if !strings.Contains(b, `"type_name":"Very very important"`) {
					t.Errorf("member: %s", b)
				}
			}},
		{name: "update an unknown type", method: "POST", url: update, body: typeBody("type_no", "VIP", "type_name", "V"),
			status: 404, contains: []string{`{"status":0,"error":2,"message":"Customer type \"VIP\" not found in this vbot_id/project_code","data":null}`}},
		{name: "update in another scope is not found", setup: vip, method: "POST", url: update,
			body: `{"vbot_id":"v1","project_code":"p2","type_no":"VIP","type_name":"V"}`, status: 404, contains: []string{`"error":2`}},
		{name: "update without type_name", setup: vip, method: "POST", url: update, body: typeBody("type_no", "VIP"),
			status: 400, contains: []string{`"error":1`, `type_name is required`}},

		// updateNo.
		{name: "updateNo keeps the holders", setup: holdVIP, method: "POST", url: updateNo,
			body: typeBody("type_no", "VIP", "new_type_no", "VVIP"), status: 200, contains: ok,
			check: func(t *testing.T, h *harness, _ []byte) {
				wantFields(t, "member after updateNo", memberOf(t, h, "0945350398"), map[string]any{
					"type_no": "VVIP", "vbot_id": "v1", "project_code": "p1",
					"types": []map[string]any{{"type_no": "VVIP", "type_name": "Very important", "vbot_id": "v1", "project_code": "p1"}}})
				wantFields(t, "profile after updateNo", profileOf(t, h, seedProfileID), map[string]any{"type_no": "VVIP"})
				// The old code is gone; the new one is a type a member write can name.
				h.mustDo(400, "PUT", "/customers_location?pos_id=pos1", "", `{"phone":"0945350398","type_no":"VIP"}`)
				h.mustDo(200, "PUT", "/customers_location?pos_id=pos1", "", `{"phone":"0945350398","type_no":"VVIP"}`)
				h.mustDo(409, "POST", del, "", typeBody("type_no", "VVIP"))
			}},
		{name: "updateNo without new_type_no", setup: vip, method: "POST", url: updateNo, body: typeBody("type_no", "VIP"),
			status: 400, contains: []string{`{"status":0,"error":1,"message":"new_type_no is required","data":null}`}},
		{name: "updateNo onto an existing code", setup: setups(vip, gold), method: "POST", url: updateNo,
			body: typeBody("type_no", "VIP", "new_type_no", "GOLD"), status: 409,
			contains: []string{`"error":3`, `Customer type \"GOLD\" already exists`}},
		{name: "updateNo of an unknown type", method: "POST", url: updateNo,
			body: typeBody("type_no", "VIP", "new_type_no", "X"), status: 404, contains: []string{`"error":2`}},
		{name: "updateNo to the same code", setup: vip, method: "POST", url: updateNo,
			body: typeBody("type_no", "VIP", "new_type_no", "VIP"), status: 200, contains: ok},

		// Delete.
		{name: "delete a type a customer holds", setup: holdVIP, method: "POST", url: del, body: typeBody("type_no", "VIP"),
			status: 409, contains: []string{`{"status":0,"error":3,"message":"Customer type \"VIP\" is still held by 1 customer: give them another type first","data":null}`},
			check: func(t *testing.T, h *harness, _ []byte) {
				if got := typeList(t, h, list); len(got) != 1 {
					t.Errorf("list: %v", got)
				}
			}},
		{name: "delete once no customer holds it", setup: setups(holdVIP, gold,
			func(t *testing.T, h *harness) {
				h.mustDo(200, "PUT", "/customers_location?pos_id=pos1", "", `{"phone":"0945350398","type_no":"GOLD"}`)
			}), method: "POST", url: del, body: typeBody("type_no", "VIP"), status: 200,
			contains: []string{`"data":true`}},
		{name: "delete an unknown type", method: "POST", url: del, body: typeBody("type_no", "VIP"), status: 404,
			contains: []string{`"status":0`, `"error":2`}},
		{name: "delete without type_no", method: "POST", url: del, body: typeBody(), status: 400,
			contains: []string{`"error":1`, `type_no is required`}},

		// List.
		{name: "list is scoped and ordered by code", setup: setups(vip, gold,
			post(200, create, "", `{"vbot_id":"v2","project_code":"p1","type_no":"X","type_name":"X"}`)),
			method: "GET", url: list, status: 200,
			contains:    []string{`{"status":1,"error":0,"message":"Customer types","data":[{"id":"`, `"type_no":"GOLD"`},
			notContains: []string{`"type_no":"X"`},
			check: func(t *testing.T, h *harness, _ []byte) {
				got := typeList(t, h, list)
				if len(got) != 2 || got[0]["type_no"] != "GOLD" || got[1]["type_no"] != "VIP" {
					t.Errorf("list: %v", got)
				}
			}},
		{name: "list of an empty scope", method: "GET", url: list, status: 200,
			contains: []string{`{"status":1,"error":0,"message":"Customer types","data":[]}`}},
		{name: "list without vbot_id", method: "GET", url: "/api/crm/type/list?project_code=p1", status: 400,
			contains: []string{`{"status":0,"error":1,"message":"vbot_id is required","data":null}`}},
		{name: "list without project_code", method: "GET", url: "/api/crm/type/list?vbot_id=v1", status: 400,
			contains: []string{`"error":1`, `project_code is required`}},
		{name: "list by a location token", setup: vip, method: "GET", url: list, token: "pos1", status: 200,
			contains: []string{`"type_no":"VIP"`}},

		// Authentication.
		{name: "no token", method: "POST", url: create, token: "none", body: seedTypeCreate, status: 401,
			contains: []string{`{"status":0,"error":4,"message":"Missing token`}},
		{name: "bad token", method: "POST", url: create, token: "crm_nope", body: seedTypeCreate, status: 401,
			contains: []string{`{"status":0,"error":4,"message":"Invalid or revoked token","data":null}`}},
		{name: "not a Bearer scheme", method: "GET", url: list, token: "none", headers: []string{"Authorization", "Basic abc"},
			status: 401, contains: []string{`"error":4`}},
		{name: "Api-Key works too", method: "POST", url: create, token: "apikey:plain", body: seedTypeCreate, status: 200, contains: ok},
		{name: "location token may not create", method: "POST", url: create, token: "pos1", body: seedTypeCreate, status: 403,
			contains: []string{`{"status":0,"error":4,"message":"This token is limited to some pos_id and may not change customer types","data":null}`}},
		{name: "location token may not delete", setup: vip, method: "POST", url: del, token: "pos1",
			body: typeBody("type_no", "VIP"), status: 403, contains: []string{`"error":4`}},
		{name: "location token may not renumber", setup: vip, method: "POST", url: updateNo, token: "pos1",
			body: typeBody("type_no", "VIP", "new_type_no", "X"), status: 403, contains: []string{`"error":4`}},

		// Bad input and internal errors.
		{name: "malformed JSON", method: "POST", url: create, body: `{"vbot_id":`, status: 400,
			contains: []string{`"status":0`, `"error":1`, `Malformed JSON`, `"data":null`}},
		{name: "body over 1 MiB", method: "POST", url: create,
			body: typeBody("type_no", "A", "type_name", strings.Repeat("a", 1<<20)), status: 413,
			contains: []string{`"status":0`, `"error":1`, `over 1048576 bytes`}},
		{name: "internal error", setup: breakTable("customer_types"), method: "GET", url: list, status: 500,
			contains: []string{`{"status":0,"error":5,"message":"Internal error","data":null}`}},
	})
}

// TestCustomerTypeSeedCalls runs the seed's four calls, with its example
// bodies, in one database, in an order where each succeeds.
func TestCustomerTypeSeedCalls(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var id string
	for _, c := range []struct{ path, body, msg string }{
		{"/api/crm/type/create", seedTypeCreate, "Customer type created"},
		{"/api/crm/type/update", seedTypeUpdate, "Customer type updated"},
		{"/api/crm/type/updateNo", seedTypeUpdateNo, "Customer type code changed"},
		{"/api/crm/type/delete", seedTypeDelete, "Customer type deleted"},
	} {
		v := decode(t, h.mustDo(200, "POST", c.path, "", c.body))
		if v["status"] != float64(1) || v["error"] != float64(0) || v["message"] != c.msg {
			t.Fatalf("%s: %v", c.path, v)
		}
		switch c.path {
		case "/api/crm/type/create":
			id, _ = v["data"].(string)
		case "/api/crm/type/delete":
			if v["data"] != true {
				t.Errorf("delete data %v", v["data"])
			}
		default:
			if v["data"] != id {
				t.Errorf("%s: data %v, want the type id %s", c.path, v["data"], id)
			}
		}
	}
	if got := typeList(t, h, seedTypeList); len(got) != 0 {
		t.Errorf("left after delete: %v", got)
	}
}
