package edge_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// seedProfileUpdate is customer-update-api.txt's example request body,
// verbatim (its `_id` is the customer createSeedProfileCustomer makes).
const seedProfileUpdate = `{
"email": "test@gmail.com",
"_id":"653a3ca502e8ab00122c39c3",
"first_name": "test",
"full_name": "test",
"dob": "1989-11-03",
"phone": null,
"gender": "male",
"tags": ["5fffb9c981cf1245fa091985", "5fffb9ce81cf1245fa091986", "5fffb9ce81cf1245fa091900"],
"custom_fields": [
{
"name": "ldp_pkg_name",
"value": "LADIPAGE-PRO"
},
{
"name": "ldp_pkg_name1",
"value": "LADIPAGE-PRO"
}
],
"city": "Hà Nội",
"address": "68 Nguyễn Cơ Thạch",
"address_2":"",
"district": "Nam Từ Liêm",
"company": "LadiPage",
"job_title": "Coder",
"ward": "Mỹ Đình 1",
"lang": "vi",
"postal_code": 100000,
"source": "API",
"external_customer_id": "123",
"subcribed_at": "2020-12-01",
"website": "123",
"facebook_url": "123",
"twitter_url": "123",
"linkedIn_url": "123",
"score": 14,
"skype": null,
"zalo": null
}`

// seedProfileID is the `_id` of seedProfileUpdate.
const seedProfileID = "653a3ca502e8ab00122c39c3"

// otherID is a second customer's `_id`.
const otherID = "653a3ca502e8ab00122c39d4"

// withID returns the member seed's body carrying a wanted `_id`.
func withID(id, body string) string {
	return `{"_id":"` + id + `",` + strings.TrimPrefix(strings.TrimSpace(body), "{")
}

// createSeedProfileCustomer creates the member seed's customer at pos1 with
// the `_id` of the profile seed, through the member dialect.
func createSeedProfileCustomer(t *testing.T, h *harness) {
	t.Helper()
	h.mustDo(200, "POST", "/customers_location?pos_id=pos1", "", withID(seedProfileID, seedMember))
}

// setups runs several setup steps in order.
func setups(steps ...func(*testing.T, *harness)) func(*testing.T, *harness) {
	return func(t *testing.T, h *harness) {
		t.Helper()
		for _, s := range steps {
			s(t, h)
		}
	}
}

// post returns a setup step sending one request that must answer want.
func post(want int, url, token, body string) func(*testing.T, *harness) {
	return func(t *testing.T, h *harness) {
		t.Helper()
		h.mustDo(want, "POST", url, token, body)
	}
}

// profileOf reads a customer back through the profile dialect.
func profileOf(t *testing.T, h *harness, id string) map[string]any {
	t.Helper()
	b := h.mustDo(200, "GET", "/1.0/customer/"+id, "apikey:admin", "")
	data, _ := decode(t, b)["data"].(map[string]any)
	if data == nil {
		t.Fatalf("profile %s: no data: %s", id, b)
	}
	return data
}

// memberOf reads a customer back through the member dialect.
func memberOf(t *testing.T, h *harness, phone string) map[string]any {
	t.Helper()
	b := h.mustDo(200, "GET", "/customers_location?phone="+phone, "", "")
	data, _ := decode(t, b)["data"].(map[string]any)
	if data == nil {
		t.Fatalf("member %s: no data: %s", phone, b)
	}
	return data
}

// wantFields fails for each key whose value (compared as JSON) differs.
func wantFields(t *testing.T, what string, got map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		wj, _ := json.Marshal(w)
		var wv any
		_ = json.Unmarshal(wj, &wv)
		if !reflect.DeepEqual(got[k], wv) {
			gj, _ := json.Marshal(got[k])
			t.Errorf("%s: %s = %s, want %s", what, k, gj, wj)
		}
	}
}

// breakTable renames a table behind the server's back, so the next query of
// it fails inside SQLite: an internal error over real HTTP.
func breakTable(table string) func(*testing.T, *harness) {
	return func(t *testing.T, h *harness) {
		t.Helper()
		db, err := sql.Open("sqlite", h.db.Path())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`ALTER TABLE ` + table + ` RENAME TO ` + table + `_gone`); err != nil {
			t.Fatalf("break %s: %v", table, err)
		}
	}
}

func TestProfileScenarios(t *testing.T) {
	t.Parallel()
	update := "/1.0/customer/update"
	create := "/1.0/customer/create"
	ak := "apikey:admin"
	seedWants := []string{`"message":"Thành công"`, `"code":200`, `"_id":"653a3ca502e8ab00122c39c3"`,
		`"email":"test@gmail.com"`, `"name":"test"`, `"full_name":"test"`, `"first_name":"test"`, `"last_name":""`,
		`"gender":"male"`, `"dob":"1989-11-03T00:00:00.000Z"`, `"dob_year":1989`, `"dob_month":10`, `"dob_day":3`,
		`"dob_month_day":"1003"`, `"company":"LadiPage"`, `"job_title":"Coder"`, `"city":"Hà Nội"`,
		`"district":"Nam Từ Liêm"`, `"address":"68 Nguyễn Cơ Thạch"`, `"ward":"Mỹ Đình 1"`, `"postal_code":100000`,
		`"lang":"vi"`, `"website":"123"`, `"facebook_url":"123"`, `"twitter_url":"123"`, `"linkedIn_url":"123"`,
		`"status":"SUBSCRIBER"`, `"subscribed_at":"2020-12-01T00:00:00.000Z"`, `"external_customer_id":"123"`,
		`"source":"API"`, `"score":14`, `"skype":null`, `"zalo":null`, `"address_2":null`,
		`"tags":["5fffb9c981cf1245fa091985","5fffb9ce81cf1245fa091986","5fffb9ce81cf1245fa091900"]`,
		`"custom_fields":[{"name":"ldp_pkg_name","value":"LADIPAGE-PRO"},{"name":"ldp_pkg_name1","value":"LADIPAGE-PRO"}]`,
		`"phone":"0945350398"`, `"created_at":"2026-11-22T10:00:00.000Z"`, `"isNewSubscriber":false`}
	createA := post(201, create, ak, `{"_id":"`+seedProfileID+`","email":"a@b.vn","full_name":"A",
		"tags":["x","y"],"custom_fields":[{"name":"a","value":1},{"name":"b","value":"x"}]}`)
	createType := func(vbot, project, no string) func(*testing.T, *harness) {
		return post(200, "/api/crm/type/create", "", fmt.Sprintf(`{"vbot_id":%q,"project_code":%q,"type_no":%q,"type_name":"T %s"}`, vbot, project, no, no))
	}
	runScenariosParallel(t, []scenario{
		// The seed's own request, verbatim, against an existing customer.
		{name: "seed request verbatim", setup: createSeedProfileCustomer, method: "POST", url: update, token: ak,
			body: seedProfileUpdate, status: 200, contains: seedWants,
			check: func(t *testing.T, h *harness, _ []byte) {
				wantFields(t, "member after seed update", memberOf(t, h, "0945350398"), map[string]any{
					"_id": seedProfileID, "name": "test", "gender": "1", "birthday": "11-03", "year_birthday": "1989",
					"facebook": "123", "twitter": "123", "address": "68 Nguyễn Cơ Thạch", "email": "test@gmail.com",
					"home_town": "Ha Noi", "phone": "0945350398", "customerId": 1})
				p := profileOf(t, h, seedProfileID)
				wantFields(t, "profile read back", p, map[string]any{"city": "Hà Nội", "score": 14, "dob_month": 10,
					"emails": []map[string]any{
						{"type": "", "_id": p["emails"].([]any)[0].(map[string]any)["_id"], "value": "test@gmail.com"},
						{"type": "", "_id": p["emails"].([]any)[1].(map[string]any)["_id"], "value": "phundk59uet@gmail.com"}}})
			}},
		{name: "seed request verbatim, sent as curl sends it (form content type)", setup: createSeedProfileCustomer,
			method: "POST", url: update, token: ak, body: seedProfileUpdate,
			headers: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 200, contains: seedWants},
		{name: "seed request verbatim twice changes nothing more", setup: setups(createSeedProfileCustomer,
			post(200, update, ak, seedProfileUpdate)), method: "POST", url: update, token: ak, body: seedProfileUpdate,
			status: 200, contains: seedWants},
		{name: "seed request for an unknown _id", method: "POST", url: update, token: ak, body: seedProfileUpdate,
			status: 404, contains: []string{`{"data":null,"message":"Customer not found","code":404}`}},

		// Create.
		{name: "create", method: "POST", url: create, token: ak,
			body:   `{"email":"a@b.vn","full_name":"A B","phone":"+84 945 350 398","gender":"female","dob":"2000-02-29"}`,
			status: 201, contains: []string{`"message":"Thành công"`, `"code":201`, `"isNewSubscriber":true`,
				`"phone":"0945350398"`, `"email":"a@b.vn"`, `"gender":"female"`, `"dob":"2000-02-29T00:00:00.000Z"`,
				`"dob_year":2000`, `"dob_month":1`, `"dob_day":29`, `"dob_month_day":"0129"`, `"name":"A B"`, `"customerId":1`,
				`"created_at":"2026-11-22T10:00:00.000Z"`, `"updated_at":"2026-11-22T10:00:00.000Z"`, `"tags":[]`, `"custom_fields":[]`},
			check: func(t *testing.T, h *harness, _ []byte) {
				wantFields(t, "member of a profile create", memberOf(t, h, "0945350398"), map[string]any{
					"name": "A B", "gender": "2", "birthday": "02-29", "year_birthday": "2000", "email": "a@b.vn"})
			}},
		{name: "create keeps a wanted _id", method: "POST", url: create, token: ak,
			body: `{"_id":"` + seedProfileID + `","email":"a@b.vn"}`, status: 201, contains: []string{`"_id":"` + seedProfileID + `"`}},
		{name: "create with an _id in use", setup: createSeedProfileCustomer, method: "POST", url: create, token: ak,
			body: `{"_id":"` + seedProfileID + `","email":"new@b.vn"}`, status: 409,
			contains: []string{`"data":null`, `"code":409`, `_id ` + seedProfileID + ` already exists`}},
		{name: "create with a known email names its customer", setup: createSeedProfileCustomer, method: "POST", url: create,
			token: ak, body: `{"email":"PHUNDK59UET@gmail.com"}`, status: 409,
			contains: []string{`"data":null`, `"code":409`, `(_id ` + seedProfileID + `)`}},
		{name: "create with a known phone names its customer", setup: createSeedProfileCustomer, method: "POST", url: create,
			token: ak, body: `{"phone":"84945350398","email":"new@b.vn"}`, status: 409,
			contains: []string{`"code":409`, seedProfileID}},
		{name: "create without email or phone", method: "POST", url: create, token: ak, body: `{"full_name":"A"}`,
			status: 400, contains: []string{`{"data":null,"message":"email or phone is required","code":400}`}},
		{name: "create with null email and empty phone", method: "POST", url: create, token: ak,
			body: `{"email":null,"phone":""}`, status: 400, contains: []string{`email or phone is required`}},
		{name: "create with a bad email", method: "POST", url: create, token: ak, body: `{"email":"nope"}`,
			status: 400, contains: []string{`"code":400`, `email is not a valid address`}},
		{name: "create with a bad phone", method: "POST", url: create, token: ak, body: `{"phone":"12ab"}`,
			status: 400, contains: []string{`"code":400`, `phone`}},

		// Update: _id and contacts.
		{name: "update without _id", method: "POST", url: update, token: ak, body: `{"email":"a@b.vn"}`,
			status: 400, contains: []string{`{"data":null,"message":"_id is required","code":400}`}},
		{name: "update with a malformed _id", method: "POST", url: update, token: ak, body: `{"_id":"123","email":"a@b.vn"}`,
			status: 400, contains: []string{`_id must be a 24-hex-digit id`}},
		{name: "update without email or phone", setup: createSeedProfileCustomer, method: "POST", url: update, token: ak,
			body: `{"_id":"` + seedProfileID + `","full_name":"X"}`, status: 400, contains: []string{`email or phone is required`}},
		{name: "update with another customer's phone", setup: setups(createSeedProfileCustomer,
			post(200, "/customers_location?pos_id=pos1", "", `{"phone":"0912345678"}`)),
			method: "POST", url: update, token: ak, body: `{"_id":"` + seedProfileID + `","phone":"+84912345678"}`,
			status: 409, contains: []string{`{"data":null,"message":"This phone belongs to another customer","code":409}`}},
		{name: "update with another customer's email", setup: setups(createSeedProfileCustomer,
			post(200, "/customers_location?pos_id=pos1", "", `{"phone":"0912345678","email":"b@c.vn"}`)),
			method: "POST", url: update, token: ak, body: `{"_id":"` + seedProfileID + `","email":"B@C.vn"}`,
			status: 409, contains: []string{`"message":"This email belongs to another customer"`, `"code":409`}},
		{name: "update adds a new phone, found by the member dialect", setup: createSeedProfileCustomer, method: "POST",
			url: update, token: ak, body: `{"_id":"` + seedProfileID + `","phone":"0912 345 678"}`, status: 200,
			contains: []string{`"phone":"0912345678"`},
			check: func(t *testing.T, h *harness, _ []byte) {
				for _, ph := range []string{"0912345678", "0945350398"} {
					wantFields(t, "member by "+ph, memberOf(t, h, ph), map[string]any{"_id": seedProfileID})
				}
			}},

		// Field mapping, both ways.
		{name: "member fields read through the profile dialect", setup: createSeedProfileCustomer, method: "GET",
			url: "/1.0/customer/" + seedProfileID, token: ak, status: 200,
			contains: []string{`"code":200`, `"name":"Ly Tu Quang Thang"`, `"full_name":"Ly Tu Quang Thang"`, `"gender":"male"`,
				`"dob":"1996-05-30T00:00:00.000Z"`, `"dob_year":1996`, `"dob_month":4`, `"dob_day":30`, `"dob_month_day":"0430"`,
				`"facebook_url":"https://www.facebook.com/CRMX.com.vn/"`, `"twitter_url":null`, `"home_town":"Ha Noi"`,
				`"relationship_status":"Chua ket hon"`, `"fb_id":"152134088"`, `"address":"Phao Dai Lang"`,
				`"phone":"0945350398"`, `"email":"phundk59uet@gmail.com"`, `"isNewSubscriber":false`}},
		{name: "member birthday without a year", setup: post(200, "/customers_location?pos_id=pos1", "",
			`{"_id":"`+seedProfileID+`","phone":"0945350398","birthday":"12-31","gender":"2","twitter":"tw"}`),
			method: "GET", url: "/1.0/customer/" + seedProfileID, token: ak, status: 200,
			contains: []string{`"dob":null`, `"dob_year":null`, `"dob_month":11`, `"dob_day":31`, `"dob_month_day":"1131"`,
				`"gender":"female"`, `"twitter_url":"tw"`, `"full_name":null`}},
		{name: "member year without a birthday", setup: post(200, "/customers_location?pos_id=pos1", "",
			`{"_id":"`+seedProfileID+`","phone":"0945350398","year_birthday":1996}`),
			method: "GET", url: "/1.0/customer/" + seedProfileID, token: ak, status: 200,
			contains: []string{`"dob":null`, `"dob_year":1996`, `"dob_month":null`, `"dob_day":null`, `"dob_month_day":null`}},
		{name: "profile fields read through the member dialect", setup: createSeedProfileCustomer, method: "POST",
			url: update, token: ak, body: `{"_id":"` + seedProfileID + `","phone":"0945350398","gender":"FEMALE",
			"dob":"2001-01-09","full_name":"  New Name ","facebook_url":"fb","twitter_url":"tw","home_town":"Hue",
			"relationship_status":"Da ket hon","fb_id":"42","address":"1 Trang Tien"}`, status: 200,
			contains: []string{`"gender":"female"`, `"name":"New Name"`},
			check: func(t *testing.T, h *harness, _ []byte) {
				wantFields(t, "member", memberOf(t, h, "0945350398"), map[string]any{"gender": "2", "birthday": "01-09",
					"year_birthday": "2001", "name": "New Name", "facebook": "fb", "twitter": "tw", "home_town": "Hue",
					"relationship_status": "Da ket hon", "fb_id": "42", "address": "1 Trang Tien"})
			}},
		{name: "name is read when full_name is absent", setup: createSeedProfileCustomer, method: "POST", url: update,
			token: ak, body: `{"_id":"` + seedProfileID + `","phone":"0945350398","name":"Via Name"}`, status: 200,
			contains: []string{`"name":"Via Name"`, `"full_name":"Via Name"`}},
		{name: "full_name wins over name", setup: createSeedProfileCustomer, method: "POST", url: update,
			token: ak, body: `{"_id":"` + seedProfileID + `","phone":"0945350398","name":"N","full_name":"F"}`, status: 200,
			contains: []string{`"name":"F"`, `"full_name":"F"`}},
		{name: "absent fields are left as they are", setup: createSeedProfileCustomer, method: "POST", url: update,
			token: ak, body: `{"_id":"` + seedProfileID + `","phone":"0945350398","gender":null,"dob":null,"full_name":null}`,
			status: 200, contains: []string{`"gender":"male"`, `"dob":"1996-05-30T00:00:00.000Z"`, `"name":"Ly Tu Quang Thang"`}},
		{name: "empty dob and gender clear them", setup: createSeedProfileCustomer, method: "POST", url: update,
			token: ak, body: `{"_id":"` + seedProfileID + `","phone":"0945350398","gender":"","dob":""}`, status: 200,
			contains: []string{`"gender":null`, `"dob":null`, `"dob_year":null`, `"dob_month":null`},
			check: func(t *testing.T, h *harness, _ []byte) {
				wantFields(t, "member", memberOf(t, h, "0945350398"), map[string]any{"gender": nil, "birthday": nil, "year_birthday": nil})
			}},
		{name: "gender not male or female", setup: createSeedProfileCustomer, method: "POST", url: update, token: ak,
			body: `{"_id":"` + seedProfileID + `","phone":"0945350398","gender":"1"}`, status: 400,
			contains: []string{`{"data":null,"message":"gender must be male or female","code":400}`}},
		{name: "dob not a real date", method: "POST", url: create, token: ak, body: `{"email":"a@b.vn","dob":"1989-02-30"}`,
			status: 400, contains: []string{`"message":"dob must be a real date as yyyy-mm-dd"`}},
		{name: "dob in another format", method: "POST", url: create, token: ak, body: `{"email":"a@b.vn","dob":"03/11/1989"}`,
			status: 400, contains: []string{`dob must be`}},
		{name: "dob with a 3-digit year", method: "POST", url: create, token: ak, body: `{"email":"a@b.vn","dob":"0999-01-01"}`,
			status: 400, contains: []string{`"message":"dob must be a real date as yyyy-mm-dd"`}},
		{name: "dob as a full ISO time", method: "POST", url: create, token: ak,
			body: `{"email":"a@b.vn","dob":"1989-11-03T00:00:00.000Z"}`, status: 201, contains: []string{`"dob":"1989-11-03T00:00:00.000Z"`}},
		{name: "custom_fields upsert by name", setup: createA, method: "POST", url: update, token: ak,
			body:   `{"_id":"` + seedProfileID + `","email":"a@b.vn","custom_fields":[{"name":"a","value":2},{"name":"c","value":true}]}`,
			status: 200, contains: []string{`"custom_fields":[{"name":"a","value":2},{"name":"b","value":"x"},{"name":"c","value":true}]`},
			check: func(t *testing.T, h *harness, _ []byte) {
				wantFields(t, "stored", profileOf(t, h, seedProfileID), map[string]any{"custom_fields": []map[string]any{
					{"name": "a", "value": 2}, {"name": "b", "value": "x"}, {"name": "c", "value": true}}})
			}},
		{name: "custom_fields items are exactly name and value", method: "POST", url: create, token: ak,
			body: `{"email":"a@b.vn","custom_fields":[{"name":"a","value":{"k":[1,2]},"id":"zz","type":"t"}]}`, status: 201,
			contains: []string{`"custom_fields":[{"name":"a","value":{"k":[1,2]}}]`}, notContains: []string{`"zz"`}},
		{name: "custom_fields item without a name", method: "POST", url: create, token: ak,
			body: `{"email":"a@b.vn","custom_fields":[{"value":1}]}`, status: 400,
			contains: []string{`"message":"custom_fields items need a name"`, `"code":400`}},
		{name: "custom_fields not a list", method: "POST", url: create, token: ak,
			body: `{"email":"a@b.vn","custom_fields":{"name":"a"}}`, status: 400, contains: []string{`custom_fields must be an array`}},
		{name: "tags are replaced as given", setup: createA, method: "POST", url: update, token: ak,
			body: `{"_id":"` + seedProfileID + `","email":"a@b.vn","tags":["z","y","z"]}`, status: 200,
			contains: []string{`"tags":["z","y","z"]`}},
		{name: "absent tags are kept", setup: createA, method: "POST", url: update, token: ak,
			body: `{"_id":"` + seedProfileID + `","email":"a@b.vn"}`, status: 200, contains: []string{`"tags":["x","y"]`}},
		{name: "empty tags clear them", setup: createA, method: "POST", url: update, token: ak,
			body: `{"_id":"` + seedProfileID + `","email":"a@b.vn","tags":[]}`, status: 200, contains: []string{`"tags":[]`}},
		{name: "tags not a list", method: "POST", url: create, token: ak, body: `{"email":"a@b.vn","tags":"x"}`,
			status: 400, contains: []string{`tags must be an array`}},
		{name: "postal_code with a leading zero stays text", method: "POST", url: create, token: ak,
			body: `{"email":"a@b.vn","postal_code":"01000","score":"14.5"}`, status: 201,
			contains: []string{`"postal_code":"01000"`, `"score":14.5`}},
		{name: "score not a number", method: "POST", url: create, token: ak, body: `{"email":"a@b.vn","score":"high"}`,
			status: 400, contains: []string{`"message":"score must be a number"`}},
		{name: "score NaN", method: "POST", url: create, token: ak, body: `{"email":"a@b.vn","score":"NaN"}`,
			status: 400, contains: []string{`score must be a number`}},
		{name: "subscribed_at as an ISO time", method: "POST", url: create, token: ak,
			body: `{"email":"a@b.vn","subscribed_at":"2023-10-26T17:17:09.526+07:00"}`, status: 201,
			contains: []string{`"subscribed_at":"2023-10-26T10:17:09.526Z"`}},
		{name: "subscribed_at not a date", method: "POST", url: create, token: ak,
			body: `{"email":"a@b.vn","subcribed_at":"yesterday"}`, status: 400, contains: []string{`subscribed_at must be a date`}},
		{name: "profile-only fields are stored and returned", method: "POST", url: create, token: ak,
			body: `{"email":"a@b.vn","first_name":"F","last_name":"L","company":"C","job_title":"J","city":"Ci","district":"D",
			"ward":"W","country":"VN","postal_code":700000,"address_2":"A2","lang":"en","website":"w.vn","linkedIn_url":"li",
			"zalo":"z","skype":"s","score":3,"source":"S","external_customer_id":77,"channels":["API","SMS"]}`, status: 201,
			contains: []string{`"first_name":"F"`, `"last_name":"L"`, `"company":"C"`, `"job_title":"J"`, `"city":"Ci"`,
				`"district":"D"`, `"ward":"W"`, `"country":"VN"`, `"postal_code":700000`, `"address_2":"A2"`, `"lang":"en"`,
				`"website":"w.vn"`, `"linkedIn_url":"li"`, `"zalo":"z"`, `"skype":"s"`, `"score":3`, `"source":"S"`,
				`"external_customer_id":"77"`, `"channels":["API","SMS"]`}},
		{name: "over-long text names its field", method: "POST", url: create, token: ak,
			body: `{"email":"a@b.vn","company":"` + strings.Repeat("c", 300) + `"}`, status: 400,
			contains: []string{`"message":"company is longer than 256 characters"`}},
		{name: "a field of the wrong JSON type names it", method: "POST", url: create, token: ak,
			body: `{"email":42}`, status: 400, contains: []string{`"message":"email must be a string, not a JSON number"`}},
		{name: "unknown fields are ignored", method: "POST", url: create, token: ak,
			body: `{"email":"a@b.vn","vouchers":["v"],"favourite":"blue"}`, status: 201},

		// The customer type.
		{name: "type_no sets the customer type", setup: setups(createSeedProfileCustomer, createType("v1", "p1", "VIP")),
			method: "POST", url: update, token: ak, body: `{"_id":"` + seedProfileID + `","phone":"0945350398","type_no":"VIP"}`,
			status: 200, contains: []string{`"type_no":"VIP"`, `"vbot_id":"v1"`, `"project_code":"p1"`,
				`"types":[{"type_no":"VIP","type_name":"T VIP","vbot_id":"v1","project_code":"p1"}]`},
			check: func(t *testing.T, h *harness, _ []byte) {
				wantFields(t, "member", memberOf(t, h, "0945350398"), map[string]any{"type_no": "VIP", "vbot_id": "v1", "project_code": "p1"})
			}},
		{name: "type_no on create", setup: createType("v1", "p1", "10"), method: "POST", url: create, token: ak,
			body: `{"email":"a@b.vn","type_no":10}`, status: 201, contains: []string{`"type_no":"10"`}},
		{name: "unknown type_no", setup: createSeedProfileCustomer, method: "POST", url: update, token: ak,
			body: `{"_id":"` + seedProfileID + `","phone":"0945350398","type_no":"VIP"}`, status: 400,
			contains: []string{`"code":400`, `type_no \"VIP\" is not a known customer type`}},
		{name: "type_no in two scopes needs the scope", setup: setups(createSeedProfileCustomer,
			createType("v1", "p1", "VIP"), createType("v2", "p1", "VIP")),
			method: "POST", url: update, token: ak, body: `{"_id":"` + seedProfileID + `","phone":"0945350398","type_no":"VIP"}`,
			status: 400, contains: []string{`exists in 2 scopes: give vbot_id and project_code`}},
		{name: "type_no with its scope", setup: setups(createSeedProfileCustomer,
			createType("v1", "p1", "VIP"), createType("v2", "p1", "VIP")), method: "POST", url: update, token: ak,
			body:   `{"_id":"` + seedProfileID + `","phone":"0945350398","type_no":"VIP","vbot_id":"v2","project_code":"p1"}`,
			status: 200, contains: []string{`"type_no":"VIP","vbot_id":"v2","project_code":"p1"`}},
		{name: "type_no of another scope", setup: setups(createSeedProfileCustomer, createType("v1", "p1", "VIP")),
			method: "POST", url: update, token: ak,
			body:   `{"_id":"` + seedProfileID + `","phone":"0945350398","type_no":"VIP","vbot_id":"v9","project_code":"p1"}`,
			status: 400, contains: []string{`is not a customer type of this vbot_id/project_code`}},

		// Reading back.
		{name: "get unknown _id", method: "GET", url: "/1.0/customer/" + otherID, token: ak, status: 404,
			contains: []string{`{"data":null,"message":"Customer not found","code":404}`}},
		{name: "get malformed _id", method: "GET", url: "/1.0/customer/xyz", token: ak, status: 400,
			contains: []string{`"code":400`, `_id must be a 24-hex-digit id`}},

		// Authentication and location-limited tokens.
		{name: "no Api-Key", method: "POST", url: update, token: "none", body: seedProfileUpdate, status: 401,
			contains: []string{`{"data":null,"message":"Missing token: send the header Authorization: Bearer TOKEN (or Api-Key: TOKEN)","code":401}`}},
		{name: "bad Api-Key", method: "POST", url: update, token: "apikey:crm_nope", body: seedProfileUpdate, status: 401,
			contains: []string{`{"data":null,"message":"Invalid or revoked token","code":401}`}},
		{name: "Bearer works too", method: "POST", url: create, token: "plain", body: `{"email":"a@b.vn"}`, status: 201},
		{name: "non-admin Api-Key", setup: createSeedProfileCustomer, method: "POST", url: update, token: "apikey:plain",
			body: seedProfileUpdate, status: 200},
		{name: "location token may not create", method: "POST", url: create, token: "apikey:pos1",
			body: `{"email":"a@b.vn"}`, status: 403, contains: []string{`"data":null`, `"code":403`, `POST /customers_location`}},
		{name: "location token updates its location's customer", setup: createSeedProfileCustomer, method: "POST",
			url: update, token: "apikey:pos1", body: seedProfileUpdate, status: 200, contains: seedWants},
		{name: "location token may not update another location's customer",
			setup:  post(200, "/customers_location?pos_id=pos2", "", withID(seedProfileID, seedMember)),
			method: "POST", url: update, token: "apikey:pos1", body: seedProfileUpdate, status: 403,
			contains: []string{`{"data":null,"message":"This token may not see customers of other locations","code":403}`},
			check: func(t *testing.T, h *harness, _ []byte) {
				wantFields(t, "unchanged", memberOf(t, h, "0945350398"), map[string]any{"name": "Ly Tu Quang Thang"})
			}},
		{name: "location token may not read another location's customer",
			setup:  post(200, "/customers_location?pos_id=pos2", "", withID(seedProfileID, seedMember)),
			method: "GET", url: "/1.0/customer/" + seedProfileID, token: "apikey:pos1", status: 403,
			contains: []string{`"code":403`}},

		// Bad input.
		{name: "malformed JSON", method: "POST", url: update, token: ak, body: `{"_id":`, status: 400,
			contains: []string{`"data":null`, `Malformed JSON`, `"code":400`}},
		{name: "a JSON array body", method: "POST", url: create, token: ak, body: `[{"email":"a@b.vn"}]`, status: 400,
			contains: []string{`"message":"The request body must be a JSON object"`}},
		{name: "empty body", method: "POST", url: create, token: ak, status: 400, contains: []string{`The request body is empty`}},
		{name: "body over 1 MiB", method: "POST", url: create, token: ak,
			body: `{"email":"a@b.vn","company":"` + strings.Repeat("a", 1<<20) + `"}`, status: 413,
			contains: []string{`"data":null`, `"code":413`, `over 1048576 bytes`}},
		{name: "internal error shows no detail", setup: setups(createSeedProfileCustomer, breakTable("customer_type_links")),
			method: "GET", url: "/1.0/customer/" + seedProfileID, token: ak, status: 500,
			contains: []string{`{"data":null,"message":"Internal error","code":500}`}},
	})
}
