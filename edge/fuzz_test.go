package edge_test

// Fuzz targets for each dialect's request decoding, driven through the real
// handlers over HTTP on a real database: whatever the bytes, the answer is
// never a 500, never a 2xx that is not the dialect's success shape, always
// the dialect's error envelope otherwise, and a refused request changes no
// row. Seeds: testdata/fuzz/<FuzzName>/ (run by plain `go test`); `make fuzz`
// explores further.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"crmedge/edge"
)

// fuzzHarness is one server per fuzz worker, seeded like the bad-input test.
func fuzzHarness(f *testing.F) *harness {
	h := newHarness(f, withOfflineUpstream)
	seedForBadInput(f, h)
	return h
}

// checkAnswer holds the contract every answer keeps, whatever was sent.
func checkAnswer(t *testing.T, h *harness, dialect string, resp *http.Response, body []byte, before map[string]int64) {
	t.Helper()
	checkSecurityHeaders(t, resp)
	st := resp.StatusCode
	switch {
	case st >= 500:
		t.Fatalf("status %d: %s", st, body)
	case st >= 200 && st <= 299:
		if isFailureBody(dialect, body) {
			t.Fatalf("status %d with a failure body: %s", st, body)
		}
	case st >= 400:
		if _, problem := errorEnvelope(dialect, st, body); problem != "" {
			t.Fatalf("status %d, not the %s error envelope (%s): %s", st, dialect, problem, body)
		}
		sameCounts(t, before, tableCounts(t, h))
	default:
		t.Fatalf("unexpected status %d: %s", st, body)
	}
}

// fuzzPost sends body to url and checks the answer.
func fuzzPost(t *testing.T, h *harness, method, url, token, dialect, body string) (int, []byte) {
	before := tableCounts(t, h)
	resp, b := rawDo(t, h, method, url, token, body)
	checkAnswer(t, h, dialect, resp, b, before)
	return resp.StatusCode, b
}

func FuzzMemberBody(f *testing.F) {
	h := fuzzHarness(f)
	f.Add(`{"phone":"0912345678","name":"A","gender":"1","birthday":"05-30","year_birthday":1996}`, false)
	f.Add(`{"phone":"0945350398","email":"x@example.com"}`, true)
	f.Fuzz(func(t *testing.T, body string, put bool) {
		method := "POST"
		if put {
			method = "PUT"
		}
		st, b := fuzzPost(t, h, method, "/customers_location?pos_id=pos1", "pos1", dMember, body)
		if st == 200 {
			var env struct {
				Data struct {
					ID string `json:"_id"`
				} `json:"data"`
			}
			if err := json.Unmarshal(b, &env); err != nil || !edge.ValidID(env.Data.ID) {
				t.Fatalf("a 200 without the member's _id: %s", b)
			}
		}
	})
}

func FuzzAccumulateBody(f *testing.F) {
	h := fuzzHarness(f)
	f.Add(`{"code":"CODE2","data":{"name":"X","phones":[{"type":"mobile","value":"0945350398"}]}}`)
	f.Add(`{"code":"CODE3","data":{"emails":[{"type":"work","value":"a@example.com"}]}}`)
	f.Fuzz(func(t *testing.T, body string) {
		st, b := fuzzPost(t, h, "POST", "/accumulate", "pos1", dLoyalty, body)
		if st == 200 {
			var r struct {
				ID    string `json:"id"`
				Score int64  `json:"score"`
			}
			if err := json.Unmarshal(b, &r); err != nil || !edge.ValidID(r.ID) || r.Score != 100 {
				t.Fatalf("a 200 without the entry: %s", b)
			}
		}
	})
}

func FuzzRedeemBody(f *testing.F) {
	h := fuzzHarness(f)
	f.Add(`{"code":"DAUMAY01","data":{"phone":"0945350398"}}`)
	f.Add(`{"code":"DAUMAY01","data":{"phone":"023232","email":"seed.member@example.com"}}`)
	f.Fuzz(func(t *testing.T, body string) {
		st, b := fuzzPost(t, h, "POST", "/redeem", "plain", dLoyalty, body)
		if st == 200 {
			var r struct {
				Balance int64 `json:"balance"`
			}
			if err := json.Unmarshal(b, &r); err != nil || r.Balance < 0 {
				t.Fatalf("a redeem overdrew or lost its balance: %s", b)
			}
		}
	})
}

func FuzzProfileBody(f *testing.F) {
	h := fuzzHarness(f)
	f.Add(`{"email":"p@example.com","full_name":"P","dob":"1996-05-30","gender":"female","tags":["a"],"custom_fields":[{"name":"n","value":1}]}`, false)
	f.Add(`{"_id":"0123456789abcdef01234567","phone":"0945350398"}`, true)
	f.Fuzz(func(t *testing.T, body string, update bool) {
		url := "/1.0/customer/create"
		if update {
			url = "/1.0/customer/update"
		}
		st, b := fuzzPost(t, h, "POST", url, "apikey:admin", dProfile, body)
		if st == 200 || st == 201 {
			var env struct {
				Data struct {
					ID string `json:"_id"`
				} `json:"data"`
				Code int `json:"code"`
			}
			if err := json.Unmarshal(b, &env); err != nil || !edge.ValidID(env.Data.ID) || env.Code != st {
				t.Fatalf("a %d without the customer: %s", st, b)
			}
		}
	})
}

func FuzzTypesBody(f *testing.F) {
	h := fuzzHarness(f)
	ops := []string{"create", "update", "delete", "updateNo"}
	f.Add(`{"vbot_id":"vbot1","project_code":"proj1","type_name":"Gold","type_no":"GOLD"}`, uint8(0))
	f.Add(`{"vbot_id":"vbot1","project_code":"proj1","type_no":"VIP","new_type_no":"VIP2"}`, uint8(3))
	f.Fuzz(func(t *testing.T, body string, op uint8) {
		fuzzPost(t, h, "POST", "/api/crm/type/"+ops[int(op)%len(ops)], "plain", dTypes, body)
	})
}

// FuzzQuery drives the GET endpoints with arbitrary query strings.
func FuzzQuery(f *testing.F) {
	h := fuzzHarness(f)
	paths := []struct{ path, dialect string }{
		{"/customers_location", dMember}, {"/history-point", dLoyalty}, {"/balance", dLoyalty},
		{"/api/crm/type/list", dTypes}, {"/admin/v1/outbox", dAdmin},
	}
	f.Add(uint8(0), "phone=0945350398&pos_id=pos1")
	f.Add(uint8(1), "phone=0945350398&type=point&page=1&createdAtRangeFrom=0&createdAtRangeTo=99999999999")
	f.Add(uint8(2), "email=seed.member%40example.com")
	f.Add(uint8(3), "vbot_id=vbot1&project_code=proj1")
	f.Add(uint8(4), "state=all&limit=5")
	f.Fuzz(func(t *testing.T, which uint8, query string) {
		if strings.ContainsFunc(query, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' }) {
			// Not a valid request line: net/http refuses it before crmedge
			// sees it (a plain-text 400 from the Go server).
			t.Skip()
		}
		p := paths[int(which)%len(paths)]
		req, err := http.NewRequest("GET", h.srv.URL+p.path, nil)
		if err != nil {
			t.Skip()
		}
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer "+h.tokens["admin"])
		before := tableCounts(t, h)
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			t.Skip() // the client refused to send it
		}
		b := readRespBody(t, resp)
		checkAnswer(t, h, p.dialect, resp, b, before)
	})
}
