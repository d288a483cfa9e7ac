package edge_test

// Hostile and broken input, every endpoint of every dialect (SPEC §8): each
// bad request gets its dialect's error envelope with a message naming the
// field at fault, never a 200 and never a 500, and changes nothing in the
// database (every table's row count is compared before and after).

import (
	"bytes"
	"cmp"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

// badCase is one request to an endpoint. Empty method/url/body take the
// endpoint's; status 0 means 400.
type badCase struct {
	name   string
	url    string
	body   string
	token  string
	status int
	field  string // the message must contain it ("" when the field has no name)
	ok     bool   // a success is expected (unknown fields, injection text)
	check  func(t *testing.T, h *harness, body []byte)
}

type badEndpoint struct {
	name, method, url, body string // body: a valid request body, "" for GET
	dialect                 string
	cases                   []badCase
}

const (
	hardPhone      = "0945350398"
	hardEmail      = "seed.member@example.com"
	hardOtherEmail = "other.customer@example.com"
)

// long returns an over-long text value (MaxTextLen + 1 characters).
func overLong() string { return strings.Repeat("đ", 257) }

// with returns the JSON object body with key set to raw JSON ("" removes it).
// A dotted key reaches into a nested object ("data.phones").
func jsonWith(body, key, raw string) string {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &obj); err != nil {
		panic(err)
	}
	if outer, inner, ok := strings.Cut(key, "."); ok {
		obj[outer] = json.RawMessage(jsonWith(string(obj[outer]), inner, raw))
	} else if raw == "" {
		delete(obj, key)
	} else {
		obj[key] = json.RawMessage(raw)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func jsonStr(s string) string { b, _ := json.Marshal(s); return string(b) }

// bodyCases are what every JSON-body endpoint must refuse.
func bodyCases(valid string) []badCase {
	return []badCase{
		{name: "malformed JSON", body: `{"phone":`, field: "JSON"},
		{name: "truncated body", body: valid[:len(valid)/2], field: "JSON"},
		{name: "empty body", body: "", field: "body"},
		{name: "whitespace body", body: " \n\t ", field: "body"},
		{name: "array body", body: `[]`, field: "object"},
		{name: "string body", body: `"hello"`, field: "object"},
		{name: "number body", body: `42`, field: "object"},
		{name: "trailing garbage", body: valid + `xyz`, field: "JSON"},
		{name: "two objects", body: valid + valid, field: "JSON"},
		{name: "non-UTF-8", body: valid[:len(valid)-1] + `,"x":"` + "\xff\xfe" + `"}`, field: "UTF-8"},
		{name: "raw NUL byte", body: valid[:len(valid)-1] + `,"x":"a` + "\x00" + `b"}`, field: "JSON"},
		{name: "deep nesting", body: valid[:len(valid)-1] + `,"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, field: "JSON"},
		{name: "over 1 MiB", body: valid[:len(valid)-1] + `,"pad":"` + strings.Repeat("x", 1<<20) + `"}`, status: 413, field: "bytes"},
		{name: "unknown fields are ignored", body: jsonWith(valid, "favourite_colour", `{"r":1}`), ok: true},
	}
}

// textCases are the wrong types and values of one required text field.
func textCases(valid, key, field string) []badCase {
	return []badCase{
		{name: key + " number", body: jsonWith(valid, key, `12345`), field: field},
		{name: key + " object", body: jsonWith(valid, key, `{"a":1}`), field: field},
		{name: key + " array", body: jsonWith(valid, key, `["a"]`), field: field},
		{name: key + " bool", body: jsonWith(valid, key, `true`), field: field},
		{name: key + " missing", body: jsonWith(valid, key, ""), field: field},
		{name: key + " null", body: jsonWith(valid, key, `null`), field: field},
		{name: key + " empty", body: jsonWith(valid, key, `""`), field: field},
		{name: key + " whitespace", body: jsonWith(valid, key, `"  \t "`), field: field},
		{name: key + " over-long", body: jsonWith(valid, key, jsonStr(overLong())), field: field},
		{name: key + " NUL", body: jsonWith(valid, key, `"ab\u0000cd"`), field: field},
	}
}

// typeTextCases are textCases of the customer-type dialect, which reads a
// number as its text (the central CRM's own clients send type_no 7): a number
// is accepted there, every other wrong value is not.
func typeTextCases(valid, key, field string) []badCase {
	return textCases(valid, key, field)[1:]
}

// optionalTextCases are the wrong types and values of an optional text field.
func optionalTextCases(valid, key, field string) []badCase {
	return []badCase{
		{name: key + " object", body: jsonWith(valid, key, `{"a":1}`), field: field},
		{name: key + " array", body: jsonWith(valid, key, `["a"]`), field: field},
		{name: key + " over-long", body: jsonWith(valid, key, jsonStr(overLong())), field: field},
		{name: key + " NUL", body: jsonWith(valid, key, `"ab\u0000cd"`), field: field},
	}
}

// queryCases are what every query parameter must refuse.
func queryCases(url, param string) []badCase {
	set := func(v string) string { return setQuery(url, param, v) }
	return []badCase{
		{name: param + " NUL", url: set("ab%00cd"), field: param},
		{name: param + " non-UTF-8", url: set("%ff%fe"), field: param},
		{name: param + " over-long", url: set(strings.Repeat("a", 257)), field: param},
		{name: param + " given twice", url: url + "&" + param + "=other", field: param},
	}
}

// setQuery replaces (or adds) param in url's query, keeping the rest raw.
func setQuery(url, param, value string) string {
	path, query, _ := strings.Cut(url, "?")
	var out []string
	found := false
	for _, kv := range strings.Split(query, "&") {
		if kv == "" {
			continue
		}
		if k, _, _ := strings.Cut(kv, "="); k == param {
			if !found {
				out = append(out, param+"="+value)
			}
			found = true
			continue
		}
		out = append(out, kv)
	}
	if !found {
		out = append(out, param+"="+value)
	}
	return path + "?" + strings.Join(out, "&")
}

func catCases(lists ...[]badCase) []badCase {
	var out []badCase
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// hardSeed is the data every endpoint's cases run against.
type hardSeed struct {
	memberID string
}

func seedForBadInput(t testing.TB, h *harness) hardSeed {
	t.Helper()
	h.mustDo(200, "PUT", "/admin/v1/products", "", `[{"code":"TIVI01","name":"TV","score":100}]`)
	h.mustDo(200, "PUT", "/admin/v1/codes", "", `[{"code":"CODE1","product_code":"TIVI01","serial":"s1"},
		{"code":"CODE2","product_code":"TIVI01","serial":"s2"},{"code":"CODE3","product_code":"TIVI01","serial":"s3"}]`)
	h.mustDo(200, "PUT", "/admin/v1/gifts", "", `[{"code":"DAUMAY01","name":"Gift","score":10}]`)
	b := h.mustDo(200, "POST", "/customers_location?pos_id=pos1", "", `{"phone":"`+hardPhone+`","email":"`+hardEmail+`","name":"Seed"}`)
	var env struct {
		Data struct {
			ID string `json:"_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Data.ID == "" {
		t.Fatalf("seed member: %s", b)
	}
	h.mustDo(200, "POST", "/accumulate", "", `{"code":"CODE1","data":{"phones":[{"type":"mobile","value":"`+hardPhone+`"}]}}`)
	h.mustDo(200, "POST", "/api/crm/type/create", "", `{"vbot_id":"vbot1","project_code":"proj1","type_name":"VIP","type_no":"VIP"}`)
	h.mustDo(201, "POST", "/1.0/customer/create", "", `{"email":"`+hardOtherEmail+`","phone":"0987000111","full_name":"Other"}`)
	return hardSeed{memberID: env.Data.ID}
}

// verbatim checks that injection-looking text came back exactly as sent and
// escaped in the JSON (no raw "<script>" a browser could run).
func verbatim(t *testing.T, body []byte, want ...string) {
	t.Helper()
	if bytes.Contains(body, []byte("<script>")) {
		t.Errorf("a raw <script> tag in the JSON: %s", body)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	found := map[string]bool{}
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case string:
			found[x] = true
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	for _, w := range want {
		if !found[w] {
			t.Errorf("%q not returned verbatim: %s", w, body)
		}
	}
}

const (
	injSQL    = `'; DROP TABLE customers; --`
	injScript = `<script>alert("x")</script>`
	injQuote  = `Robert"); DELETE FROM ledger WHERE ("1"="1`
)

func badEndpoints() []badEndpoint {
	member := `{"phone":"0912345678","name":"New Member","email":"new.member@example.com"}`
	memberPut := `{"phone":"` + hardPhone + `","name":"Renamed"}`
	acc := `{"code":"CODE2","data":{"name":"X","phones":[{"type":"mobile","value":"` + hardPhone + `"}],"emails":[]}}`
	red := `{"code":"DAUMAY01","data":{"phone":"` + hardPhone + `","email":""}}`
	tCreate := `{"vbot_id":"vbot1","project_code":"proj1","type_name":"Gold","type_no":"GOLD"}`
	tUpdate := `{"vbot_id":"vbot1","project_code":"proj1","type_name":"VIP renamed","type_no":"VIP"}`
	tDelete := `{"vbot_id":"vbot1","project_code":"proj1","type_no":"VIP"}`
	tNo := `{"vbot_id":"vbot1","project_code":"proj1","type_no":"VIP","new_type_no":"VIP9"}`
	pCreate := `{"email":"profile.new@example.com","full_name":"Profile New","phone":"0987654321"}`
	pUpdate := `{"_id":"{ID}","email":"` + hardEmail + `","full_name":"Updated","company":"Co"}`
	getMember := "/customers_location?phone=" + hardPhone + "&pos_id=pos1"
	history := "/history-point?phone=" + hardPhone + "&type=point&page=1"
	balance := "/balance?phone=" + hardPhone
	list := "/api/crm/type/list?vbot_id=vbot1&project_code=proj1"

	return []badEndpoint{
		{name: "member GET", method: "GET", url: getMember, dialect: dMember, cases: catCases(
			[]badCase{
				{name: "phone missing", url: "/customers_location?pos_id=pos1", field: "phone"},
				{name: "phone empty", url: "/customers_location?phone=&pos_id=pos1", field: "phone"},
				{name: "phone whitespace", url: "/customers_location?phone=%20%20&pos_id=pos1", field: "phone"},
				{name: "phone letters", url: "/customers_location?phone=09453abc98&pos_id=pos1", field: "phone"},
				{name: "phone injection", url: "/customers_location?phone=%27%3B%20DROP%20TABLE%20customers%3B%20--&pos_id=pos1", field: "phone"},
				{name: "pos_id injection finds nothing", url: "/customers_location?phone=" + hardPhone + "&pos_id=%27%20OR%201%3D1%20--", status: 404, field: "not found"},
				{name: "unknown query parameters are ignored", url: getMember + "&utm_source=x&page=-1", ok: true},
			},
			queryCases(getMember, "phone"), queryCases(getMember, "pos_id"))},

		{name: "member POST", method: "POST", url: "/customers_location?pos_id=pos1", body: member, dialect: dMember, cases: catCases(
			bodyCases(member),
			textCases(member, "phone", "phone"),
			optionalTextCases(member, "name", "name"),
			optionalTextCases(member, "address", "address"),
			optionalTextCases(member, "home_town", "home_town"),
			optionalTextCases(member, "relationship_status", "relationship_status"),
			optionalTextCases(member, "fb_id", "fb_id"),
			optionalTextCases(member, "facebook", "facebook"),
			optionalTextCases(member, "twitter", "twitter"),
			optionalTextCases(member, "age_range", "age_range"),
			[]badCase{
				{name: "phone not a number", body: jsonWith(member, "phone", `"not a phone"`), field: "phone"},
				{name: "phone of 40 digits", body: jsonWith(member, "phone", jsonStr(strings.Repeat("9", 40))), field: "phone"},
				{name: "email number", body: jsonWith(member, "email", `5`), field: "email"},
				{name: "email invalid", body: jsonWith(member, "email", `"a@"`), field: "email"},
				{name: "email over-long", body: jsonWith(member, "email", jsonStr(strings.Repeat("a", 250)+"@example.com")), field: "email"},
				{name: "gender object", body: jsonWith(member, "gender", `{}`), field: "gender"},
				{name: "gender 3", body: jsonWith(member, "gender", `3`), field: "gender"},
				{name: "birthday number", body: jsonWith(member, "birthday", `530`), field: "birthday"},
				{name: "birthday 00-00", body: jsonWith(member, "birthday", `"00-00"`), field: "birthday"},
				{name: "year_birthday array", body: jsonWith(member, "year_birthday", `[1996]`), field: "year_birthday"},
				{name: "year_birthday 99999", body: jsonWith(member, "year_birthday", `99999`), field: "year_birthday"},
				{name: "year_birthday -1996", body: jsonWith(member, "year_birthday", `-1996`), field: "year_birthday"},
				{name: "type_no number", body: jsonWith(member, "type_no", `7`), field: "type_no"},
				{name: "type_no unknown", body: jsonWith(member, "type_no", `"NOPE"`), field: "type_no"},
				{name: "vbot_id object", body: jsonWith(member, "vbot_id", `{}`), field: "vbot_id"},
				{name: "_id number", body: jsonWith(member, "_id", `1`), field: "_id"},
				{name: "pos_id missing", url: "/customers_location", field: "pos_id"},
				{name: "pos_id empty", url: "/customers_location?pos_id=", field: "pos_id"},
				{name: "pos_id whitespace", url: "/customers_location?pos_id=%20", field: "pos_id"},
				{name: "injection text is stored verbatim", ok: true,
					body: jsonWith(jsonWith(jsonWith(jsonWith(jsonWith(member, "name", jsonStr(injSQL)), "address", jsonStr(injScript)), "home_town", jsonStr(injQuote)), "phone", `"0912000333"`), "email", ""),
					check: func(t *testing.T, h *harness, _ []byte) {
						b := h.mustDo(200, "GET", "/customers_location?phone=0912000333&pos_id=pos1", "", "")
						verbatim(t, b, injSQL, injScript, injQuote)
					}},
			},
			queryCases("/customers_location?pos_id=pos1", "pos_id"))},

		{name: "member PUT", method: "PUT", url: "/customers_location?pos_id=pos1", body: memberPut, dialect: dMember, cases: catCases(
			bodyCases(memberPut),
			textCases(memberPut, "phone", "phone"),
			optionalTextCases(memberPut, "name", "name"),
			optionalTextCases(memberPut, "address", "address"),
			[]badCase{
				{name: "gender array", body: jsonWith(memberPut, "gender", `[1]`), field: "gender"},
				{name: "birthday 02-30", body: jsonWith(memberPut, "birthday", `"02-30"`), field: "birthday"},
				{name: "year_birthday object", body: jsonWith(memberPut, "year_birthday", `{}`), field: "year_birthday"},
				{name: "email invalid", body: jsonWith(memberPut, "email", `"x y@z"`), field: "email"},
				{name: "pos_id missing", url: "/customers_location", field: "pos_id"},
				{name: "injection text is stored verbatim", ok: true,
					body: jsonWith(jsonWith(memberPut, "name", jsonStr(injScript)), "address", jsonStr(injSQL)),
					check: func(t *testing.T, h *harness, _ []byte) {
						verbatim(t, h.mustDo(200, "GET", getMember, "", ""), injScript, injSQL)
					}},
			},
			queryCases("/customers_location?pos_id=pos1", "pos_id"))},

		{name: "accumulate", method: "POST", url: "/accumulate", body: acc, dialect: dLoyalty, cases: catCases(
			bodyCases(acc),
			textCases(acc, "code", "code"),
			[]badCase{
				{name: "data missing", body: jsonWith(acc, "data", ""), field: "data"},
				{name: "data null", body: jsonWith(acc, "data", `null`), field: "data"},
				{name: "data array", body: jsonWith(acc, "data", `[]`), field: "data"},
				{name: "data string", body: jsonWith(acc, "data", `"x"`), field: "data"},
				{name: "data empty", body: jsonWith(acc, "data", `{}`), field: "data"},
				{name: "data.name number", body: jsonWith(acc, "data.name", `1`), field: "data.name"},
				{name: "data.name over-long", body: jsonWith(acc, "data.name", jsonStr(overLong())), field: "name"},
				{name: "data.phones object", body: jsonWith(acc, "data.phones", `{}`), field: "data.phones"},
				{name: "data.phones string", body: jsonWith(acc, "data.phones", `"0945350398"`), field: "data.phones"},
				{name: "data.phones of numbers", body: jsonWith(acc, "data.phones", `[945350398]`), field: "data.phones"},
				{name: "data.phones value number", body: jsonWith(acc, "data.phones", `[{"value":945350398}]`), field: "data.phones"},
				{name: "data.phones value invalid", body: jsonWith(acc, "data.phones", `[{"value":"12ab"}]`), field: "data.phones"},
				{name: "data.phones value NUL", body: jsonWith(acc, "data.phones", `[{"value":"0945\u0000350398"}]`), field: "data.phones"},
				{name: "data.phones value whitespace", body: jsonWith(acc, "data.phones", `[{"value":"   "}]`), field: "data"},
				{name: "data.phones type over-long", body: jsonWith(acc, "data.phones", `[{"type":`+jsonStr(overLong())+`,"value":"0945350398"}]`), field: "data.phones"},
				{name: "data.phones too many", body: jsonWith(acc, "data.phones", `[`+strings.TrimSuffix(strings.Repeat(`{"value":"0945350398"},`, 51), ",")+`]`), field: "phones"},
				{name: "data.emails value invalid", body: jsonWith(acc, "data.emails", `[{"value":"not-an-email"}]`), field: "data.emails"},
				{name: "data.emails value number", body: jsonWith(acc, "data.emails", `[{"value":5}]`), field: "data.emails"},
				{name: "data._id number", body: jsonWith(acc, "data._id", `5`), field: "data._id"},
				{name: "id object", body: jsonWith(acc, "id", `{}`), field: "id"},
				{name: "code injection is just unknown", body: jsonWith(acc, "code", jsonStr(injSQL)), status: 404, field: "Code not found"},
				{name: "code already used", body: jsonWith(acc, "code", `"CODE1"`), status: 409, field: "used"},
				{name: "pos_id over-long", url: "/accumulate?pos_id=" + strings.Repeat("p", 257), field: "pos_id"},
				{name: "pos_id NUL", url: "/accumulate?pos_id=a%00b", field: "pos_id"},
			})},

		{name: "redeem", method: "POST", url: "/redeem", body: red, dialect: dLoyalty, cases: catCases(
			bodyCases(red),
			textCases(red, "code", "code"),
			[]badCase{
				{name: "data missing", body: jsonWith(red, "data", ""), field: "data"},
				{name: "data array", body: jsonWith(red, "data", `[1]`), field: "data"},
				{name: "data.phone number", body: jsonWith(red, "data.phone", `945350398`), field: "data.phone"},
				{name: "data.phone object", body: jsonWith(red, "data.phone", `{}`), field: "data.phone"},
				{name: "data.phone invalid", body: jsonWith(red, "data.phone", `"12ab"`), field: "data.phone"},
				{name: "data.phone NUL", body: jsonWith(red, "data.phone", `"0945\u0000350398"`), field: "data.phone"},
				{name: "data.phone over-long", body: jsonWith(red, "data.phone", jsonStr(overLong())), field: "data.phone"},
				{name: "data.email number", body: jsonWith(red, "data.email", `1`), field: "data.email"},
				{name: "data.email invalid", body: jsonWith(red, "data.email", `"@@"`), field: "data.email"},
				{name: "data phone and email empty", body: jsonWith(red, "data.phone", `"  "`), field: "data.phone"},
				{name: "id number", body: jsonWith(red, "id", `1`), field: "id"},
				{name: "gift injection is just unknown", body: jsonWith(red, "code", jsonStr(injSQL)), status: 404, field: "Gift not found"},
				{name: "unknown customer", body: jsonWith(red, "data.phone", `"0912999888"`), status: 404, field: "Customer not found"},
				{name: "pos_id twice", url: "/redeem?pos_id=a&pos_id=b", field: "pos_id"},
			})},

		{name: "history-point", method: "GET", url: history, dialect: dLoyalty, cases: catCases(
			[]badCase{
				{name: "no phone and no email", url: "/history-point?type=point", field: "phone"},
				{name: "phone invalid", url: "/history-point?phone=12ab", field: "phone"},
				{name: "phone whitespace", url: "/history-point?phone=%20%20", field: "phone"},
				{name: "email invalid", url: "/history-point?email=nope", field: "email"},
				{name: "type unknown", url: setQuery(history, "type", "points"), field: "type"},
				{name: "page 0", url: setQuery(history, "page", "0"), field: "page"},
				{name: "page -1", url: setQuery(history, "page", "-1"), field: "page"},
				{name: "page text", url: setQuery(history, "page", "abc"), field: "page"},
				{name: "page 1.5", url: setQuery(history, "page", "1.5"), field: "page"},
				{name: "page overflowing", url: setQuery(history, "page", "99999999999999999999999"), field: "page"},
				{name: "page too large", url: setQuery(history, "page", "1000001"), field: "page"},
				{name: "page large but valid is empty", url: setQuery(history, "page", "999999"), ok: true,
					check: func(t *testing.T, _ *harness, b []byte) {
						if strings.TrimSpace(string(b)) != "[]" {
							t.Errorf("page 999999: %s, want []", b)
						}
					}},
				{name: "range reversed", url: history + "&createdAtRangeFrom=2000&createdAtRangeTo=1000", field: "createdAtRangeFrom"},
				{name: "range from text", url: history + "&createdAtRangeFrom=yesterday", field: "createdAtRangeFrom"},
				{name: "range to negative", url: history + "&createdAtRangeTo=-5", field: "createdAtRangeTo"},
				{name: "range to huge", url: history + "&createdAtRangeTo=99999999999999999", field: "createdAtRangeTo"},
				{name: "unknown customer has an empty history", url: "/history-point?phone=0912999888", ok: true,
					check: func(t *testing.T, _ *harness, b []byte) {
						if strings.TrimSpace(string(b)) != "[]" {
							t.Errorf("unknown customer: %s, want []", b)
						}
					}},
				{name: "unknown query parameters are ignored", url: history + "&sort=desc&limit=-3", ok: true},
			},
			queryCases(history, "phone"), queryCases(history, "page"), queryCases(history, "type"))},

		{name: "balance", method: "GET", url: balance, dialect: dLoyalty, cases: catCases(
			[]badCase{
				{name: "no phone and no email", url: "/balance", field: "phone"},
				{name: "phone invalid", url: "/balance?phone=abc", field: "phone"},
				{name: "email invalid", url: "/balance?email=a%40", field: "email"},
				{name: "phone injection", url: "/balance?phone=%27%20OR%20%271%27%3D%271", field: "phone"},
				{name: "email injection finds nobody", url: "/balance?email=x%27or%271%27%3D%271%40example.com", ok: true,
					check: func(t *testing.T, _ *harness, b []byte) {
						if !strings.Contains(string(b), `"balance":0`) {
							t.Errorf("injection email: %s", b)
						}
					}},
				{name: "unknown query parameters are ignored", url: balance + "&x=1", ok: true},
			},
			queryCases(balance, "phone"), queryCases(balance+"&email=a@example.com", "email"))},

		{name: "types create", method: "POST", url: "/api/crm/type/create", body: tCreate, dialect: dTypes, cases: catCases(
			bodyCases(tCreate),
			typeTextCases(tCreate, "vbot_id", "vbot_id"),
			typeTextCases(tCreate, "project_code", "project_code"),
			typeTextCases(tCreate, "type_no", "type_no"),
			typeTextCases(tCreate, "type_name", "type_name"),
			[]badCase{
				{name: "type_no taken", body: jsonWith(tCreate, "type_no", `"VIP"`), status: 409, field: "VIP"},
				{name: "injection text is stored verbatim", ok: true,
					body: jsonWith(jsonWith(tCreate, "type_name", jsonStr(injScript)), "type_no", jsonStr(injSQL)),
					check: func(t *testing.T, h *harness, _ []byte) {
						verbatim(t, h.mustDo(200, "GET", list, "", ""), injScript, injSQL)
					}},
			})},

		{name: "types update", method: "POST", url: "/api/crm/type/update", body: tUpdate, dialect: dTypes, cases: catCases(
			bodyCases(tUpdate),
			typeTextCases(tUpdate, "type_no", "type_no"),
			typeTextCases(tUpdate, "type_name", "type_name"),
			[]badCase{
				{name: "vbot_id array", body: jsonWith(tUpdate, "vbot_id", `[]`), field: "vbot_id"},
				{name: "unknown type", body: jsonWith(tUpdate, "type_no", `"NOPE"`), status: 404, field: "NOPE"},
			})},

		{name: "types delete", method: "POST", url: "/api/crm/type/delete", body: tDelete, dialect: dTypes, cases: catCases(
			bodyCases(tDelete),
			typeTextCases(tDelete, "vbot_id", "vbot_id"),
			typeTextCases(tDelete, "type_no", "type_no"),
			[]badCase{
				{name: "project_code object", body: jsonWith(tDelete, "project_code", `{}`), field: "project_code"},
				{name: "unknown type", body: jsonWith(tDelete, "type_no", `"NOPE"`), status: 404, field: "NOPE"},
			})},

		{name: "types updateNo", method: "POST", url: "/api/crm/type/updateNo", body: tNo, dialect: dTypes, cases: catCases(
			bodyCases(tNo),
			typeTextCases(tNo, "new_type_no", "new_type_no"),
			typeTextCases(tNo, "type_no", "type_no"),
			[]badCase{
				{name: "unknown type", body: jsonWith(tNo, "type_no", `"NOPE"`), status: 404, field: "NOPE"},
			})},

		{name: "types list", method: "GET", url: list, dialect: dTypes, cases: catCases(
			[]badCase{
				{name: "vbot_id missing", url: "/api/crm/type/list?project_code=proj1", field: "vbot_id"},
				{name: "project_code missing", url: "/api/crm/type/list?vbot_id=vbot1", field: "project_code"},
				{name: "vbot_id whitespace", url: setQuery(list, "vbot_id", "%20"), field: "vbot_id"},
				{name: "unknown query parameters are ignored", url: list + "&page=0", ok: true},
			},
			queryCases(list, "vbot_id"), queryCases(list, "project_code"))},

		{name: "profile create", method: "POST", url: "/1.0/customer/create", body: pCreate, dialect: dProfile, cases: catCases(
			bodyCases(pCreate),
			optionalTextCases(pCreate, "full_name", "name"),
			optionalTextCases(pCreate, "company", "company"),
			optionalTextCases(pCreate, "city", "city"),
			optionalTextCases(pCreate, "address_2", "address_2"),
			optionalTextCases(pCreate, "website", "website"),
			[]badCase{
				{name: "email and phone missing", body: jsonWith(jsonWith(pCreate, "email", ""), "phone", ""), field: "email"},
				{name: "email and phone whitespace", body: jsonWith(jsonWith(pCreate, "email", `" "`), "phone", `" "`), field: "email"},
				{name: "email number", body: jsonWith(pCreate, "email", `1`), field: "email"},
				{name: "email invalid", body: jsonWith(pCreate, "email", `"x@"`), field: "email"},
				{name: "phone number", body: jsonWith(pCreate, "phone", `987654321`), field: "phone"},
				{name: "phone invalid", body: jsonWith(pCreate, "phone", `"12"`), field: "phone"},
				{name: "tags object", body: jsonWith(pCreate, "tags", `{}`), field: "tags"},
				{name: "tags of numbers", body: jsonWith(pCreate, "tags", `[1,2]`), field: "tags"},
				{name: "tags too many", body: jsonWith(pCreate, "tags", `[`+strings.TrimSuffix(strings.Repeat(`"t",`, 51), ",")+`]`), field: "tags"},
				{name: "tag over-long", body: jsonWith(pCreate, "tags", `[`+jsonStr(overLong())+`]`), field: "tags"},
				{name: "custom_fields object", body: jsonWith(pCreate, "custom_fields", `{}`), field: "custom_fields"},
				{name: "custom_fields without name", body: jsonWith(pCreate, "custom_fields", `[{"value":1}]`), field: "custom_fields"},
				{name: "custom_fields name number", body: jsonWith(pCreate, "custom_fields", `[{"name":1,"value":1}]`), field: "custom_fields"},
				{name: "custom_fields value over-long", body: jsonWith(pCreate, "custom_fields", `[{"name":"a","value":`+jsonStr(overLong())+`}]`), field: "custom_fields"},
				{name: "dob number", body: jsonWith(pCreate, "dob", `19960530`), field: "dob"},
				{name: "dob not a date", body: jsonWith(pCreate, "dob", `"1996-02-30"`), field: "dob"},
				{name: "gender other", body: jsonWith(pCreate, "gender", `"x"`), field: "gender"},
				{name: "score text", body: jsonWith(pCreate, "score", `"lots"`), field: "score"},
				{name: "score object", body: jsonWith(pCreate, "score", `{}`), field: "score"},
				{name: "channels object", body: jsonWith(pCreate, "channels", `{}`), field: "channels"},
				{name: "postal_code array", body: jsonWith(pCreate, "postal_code", `[]`), field: "postal_code"},
				{name: "type_no unknown", body: jsonWith(pCreate, "type_no", `"NOPE"`), field: "type_no"},
				{name: "email of another customer", body: jsonWith(pCreate, "email", jsonStr(hardEmail)), status: 409, field: "exists"},
				{name: "injection text is stored verbatim", ok: true,
					body: jsonWith(jsonWith(jsonWith(jsonWith(jsonWith(pCreate, "full_name", jsonStr(injSQL)), "company", jsonStr(injScript)), "tags", `[`+jsonStr(injQuote)+`]`), "phone", ""), "email", `"inject@example.com"`),
					check: func(t *testing.T, h *harness, b []byte) {
						var env struct {
							Data struct {
								ID string `json:"_id"`
							} `json:"data"`
						}
						_ = json.Unmarshal(b, &env)
						verbatim(t, h.mustDo(200, "GET", "/1.0/customer/"+env.Data.ID, "", ""), injSQL, injScript, injQuote)
					}},
			})},

		{name: "profile update", method: "POST", url: "/1.0/customer/update", body: pUpdate, dialect: dProfile, cases: catCases(
			bodyCases(pUpdate),
			textCases(pUpdate, "_id", "_id"),
			optionalTextCases(pUpdate, "full_name", "name"),
			optionalTextCases(pUpdate, "job_title", "job_title"),
			[]badCase{
				{name: "email and phone missing", body: jsonWith(pUpdate, "email", ""), field: "email"},
				{name: "email of another customer", body: jsonWith(pUpdate, "email", jsonStr(hardOtherEmail)), status: 409, field: "another customer"},
				{name: "dob array", body: jsonWith(pUpdate, "dob", `[]`), field: "dob"},
				{name: "injection text is stored verbatim", ok: true,
					body: jsonWith(jsonWith(pUpdate, "full_name", jsonStr(injScript)), "city", jsonStr(injSQL)),
					check: func(t *testing.T, h *harness, _ []byte) {
						verbatim(t, h.mustDo(200, "GET", "/customers_location?phone="+hardPhone, "", ""), injScript)
					}},
				{name: "_id missing", body: `{"email":"` + hardEmail + `"}`, field: "_id"},
				{name: "_id number", body: `{"_id":5,"email":"` + hardEmail + `"}`, field: "_id"},
				{name: "_id not hex", body: `{"_id":"zzzzzzzzzzzzzzzzzzzzzzzz","email":"` + hardEmail + `"}`, field: "_id"},
				{name: "_id injection", body: `{"_id":` + jsonStr(injSQL) + `,"email":"` + hardEmail + `"}`, field: "_id"},
				{name: "_id unknown", body: `{"_id":"0123456789abcdef01234567","email":"x.y@example.com"}`, status: 404, field: "not found"},
				{name: "malformed JSON", body: `{"_id":`, field: "JSON"},
				{name: "empty body", body: "", field: "body"},
				{name: "array body", body: `[{}]`, field: "object"},
				{name: "over 1 MiB", body: `{"pad":"` + strings.Repeat("x", 1<<20) + `"}`, status: 413, field: "bytes"},
			})},

		{name: "profile get", method: "GET", url: "/1.0/customer/0123456789abcdef01234567", dialect: dProfile, cases: []badCase{
			{name: "known id", url: "/1.0/customer/{ID}", ok: true},
			{name: "id not hex", url: "/1.0/customer/not-an-id", field: "_id"},
			{name: "id injection", url: "/1.0/customer/%27%20OR%201%3D1%20--", field: "_id"},
			{name: "id NUL", url: "/1.0/customer/0123456789abcdef0123456%00", field: "_id"},
			{name: "id unknown", status: 404, field: "not found"},
		}},

		{name: "admin PUT products", method: "PUT", url: "/admin/v1/products", body: `[{"code":"P2","name":"Two","score":5}]`, dialect: dAdmin, cases: []badCase{
			{name: "malformed JSON", body: `[{"code":"P2",`, field: "JSON"},
			{name: "empty body", body: "", field: "empty"},
			{name: "empty array", body: "[]", field: "empty"},
			{name: "object body", body: `{"code":"P2"}`, field: "array of objects"},
			{name: "array of numbers", body: `[1,2]`, field: "item 1"},
			{name: "code object", body: `[{"code":{"a":1},"name":"x","score":1}]`, field: "code"},
			{name: "name array", body: `[{"code":"P2","name":["x"],"score":1}]`, field: "name"},
			{name: "score text", body: `[{"code":"P2","name":"x","score":"many"}]`, field: "score"},
			{name: "score negative", body: `[{"code":"P2","name":"x","score":-1}]`, field: "score"},
			{name: "score fractional", body: `[{"code":"P2","name":"x","score":1.5}]`, field: "score"},
			{name: "score huge", body: `[{"code":"P2","name":"x","score":1e300}]`, field: "score"},
			{name: "code missing", body: `[{"name":"x","score":1}]`, field: "code"},
			{name: "code whitespace", body: `[{"code":"  ","name":"x","score":1}]`, field: "code"},
			{name: "code with spaces", body: `[{"code":"a b","name":"x","score":1}]`, field: "code"},
			{name: "name over-long", body: `[{"code":"P2","name":` + jsonStr(overLong()) + `,"score":1}]`, field: "name"},
			{name: "name NUL", body: `[{"code":"P2","name":"a\u0000b","score":1}]`, field: "name"},
			{name: "non-UTF-8", body: `[{"code":"P2","name":"` + "\xff" + `","score":1}]`, field: "UTF-8"},
			{name: "bad second row writes nothing", body: `[{"code":"P2","name":"x","score":1},{"code":"P3","name":"y","score":"z"}]`, field: "item 2"},
			{name: "CSV without the score column", body: "code,name\nP2,x\n", field: "score"},
			{name: "CSV bad quote", body: "code,name,score\n\"P2,x,1\n", field: "line"},
			{name: "over 1 MiB", body: `[{"code":"P2","name":"x","score":1,"pad":"` + strings.Repeat("x", 1<<20) + `"}]`, status: 413, field: "bytes"},
			{name: "plain token", token: "plain", status: 403, field: "admin"},
			{name: "injection text is stored verbatim", ok: true, body: `[{"code":"P9","name":` + jsonStr(injSQL) + `,"score":1}]`},
		}},

		{name: "admin PUT codes", method: "PUT", url: "/admin/v1/codes", body: `[{"code":"CODE9","product_code":"TIVI01"}]`, dialect: dAdmin, cases: []badCase{
			{name: "product unknown writes nothing", body: `[{"code":"CODE8","product_code":"TIVI01"},{"code":"CODE9","product_code":"NOPE"}]`, field: "NOPE"},
			{name: "product_code missing", body: `[{"code":"CODE9"}]`, field: "product_code"},
			{name: "serial object", body: `[{"code":"CODE9","product_code":"TIVI01","serial":{}}]`, field: "serial"},
			{name: "malformed JSON", body: `[`, field: "JSON"},
		}},

		{name: "admin PUT gifts", method: "PUT", url: "/admin/v1/gifts", body: `[{"code":"G2","name":"Mug","score":5}]`, dialect: dAdmin, cases: []badCase{
			{name: "score missing", body: `[{"code":"G2","name":"Mug"}]`, field: "score"},
			{name: "id not hex", body: `[{"code":"G2","name":"Mug","score":1,"id":"xyz"}]`, field: "id"},
		}},

		{name: "admin outbox retry", method: "POST", url: "/admin/v1/outbox/retry", body: `{"all_dead":true}`, dialect: dAdmin, cases: catCases(
			bodyCases(`{"all_dead":true}`),
			[]badCase{
				{name: "nothing to retry named", body: `{}`, field: "id"},
				{name: "id number", body: `{"id":5}`, field: "id"},
				{name: "all_dead text", body: `{"all_dead":"yes"}`, field: "all_dead"},
				{name: "id unknown", body: `{"id":"0123456789abcdef01234567"}`, status: 404, field: "0123456789abcdef01234567"},
				{name: "id injection", body: `{"id":` + jsonStr(injSQL) + `}`, status: 404, field: "DROP"},
				{name: "pos token", token: "pos1", status: 403, field: "admin"},
			})},

		{name: "admin outbox list", method: "GET", url: "/admin/v1/outbox?state=all", dialect: dAdmin, cases: []badCase{
			{name: "state unknown", url: "/admin/v1/outbox?state=nope", field: "state"},
			{name: "limit 0", url: "/admin/v1/outbox?limit=0", field: "limit"},
			{name: "limit text", url: "/admin/v1/outbox?limit=ten", field: "limit"},
			{name: "limit huge", url: "/admin/v1/outbox?limit=99999999999999999999", field: "limit"},
			{name: "no token", token: "none", status: 401, field: "token"},
		}},
	}
}

func TestBadInputEveryEndpoint(t *testing.T) {
	for _, ep := range badEndpoints() {
		t.Run(ep.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, withOfflineUpstream)
			seed := seedForBadInput(t, h)
			wrote := false
			// Successes last: they may use up what the failures need.
			cases := slices.Clone(ep.cases)
			slices.SortStableFunc(cases, func(a, b badCase) int {
				return cmp.Compare(okLast(a.ok), okLast(b.ok))
			})
			for _, c := range cases {
				url, body := c.url, c.body
				if url == "" {
					url = ep.url
				}
				if body == "" && c.name != "empty body" {
					body = ep.body
				}
				url = strings.ReplaceAll(url, "{ID}", seed.memberID)
				body = strings.ReplaceAll(body, "{ID}", seed.memberID)
				before := tableCounts(t, h)
				resp, b := rawDo(t, h, ep.method, url, c.token, body)
				checkSecurityHeaders(t, resp)
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("%s: Content-Type %q", c.name, ct)
				}
				if c.ok {
					if resp.StatusCode < 200 || resp.StatusCode > 299 || isFailureBody(ep.dialect, b) {
						t.Errorf("%s: status %d, want a success; body %.300s", c.name, resp.StatusCode, b)
					} else if c.check != nil {
						c.check(t, h, b)
					}
					wrote = wrote || !maps.Equal(before, tableCounts(t, h))
					continue
				}
				want := c.status
				if want == 0 {
					want = 400
				}
				if resp.StatusCode != want {
					t.Errorf("%s: status %d, want %d; body %.300s", c.name, resp.StatusCode, want, b)
					continue
				}
				msg, problem := errorEnvelope(ep.dialect, want, b)
				if problem != "" {
					t.Errorf("%s: not the %s error envelope (%s): %.300s", c.name, ep.dialect, problem, b)
				}
				if c.field != "" && !strings.Contains(msg, c.field) {
					t.Errorf("%s: message %q does not name %q", c.name, msg, c.field)
				}
				t.Logf("· %-40s %d %s", c.name, resp.StatusCode, msg)
				sameCounts(t, before, tableCounts(t, h))
			}
			// A write that succeeded changed the counts: they can catch a
			// half-written failure.
			if ep.method != "GET" && ep.dialect != dAdmin && !wrote {
				t.Errorf("no successful write changed a row count")
			}
		})
	}
}

func okLast(b bool) int {
	if b {
		return 1
	}
	return 0
}
