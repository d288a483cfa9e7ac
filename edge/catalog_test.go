package edge_test

import (
	"context"
	"strings"
	"testing"

	"crmedge/edge"
)

func TestParseCatalog(t *testing.T) {
	t.Parallel()
	const bom = "\ufeff"
	cases := []struct {
		name, kind, in string
		rows           int
		err            string // fragment of the error; "" = success
	}{
		{name: "products csv", kind: "products", in: "code,name,score\nTIVI01,Tivi,100\nPEN01,Pen,1\n", rows: 2},
		{name: "gifts csv with CRLF, quotes and spaces", kind: "gifts",
			in: "Code , Name , Score\r\nDAUMAY01,\"Đầu máy, loại 1\", 10 \r\n", rows: 1},
		{name: "codes csv, columns in any order, extra column", kind: "codes",
			in: "serial,note,product_code,code\nnpmx8b98pfg,x,TIVI01,TIVInpmx8b98pfg\n", rows: 1},
		{name: "codes csv without serial", kind: "codes", in: "code,product_code\nC1,TIVI01\n", rows: 1},
		{name: "products json", kind: "products", in: `[{"code":"TIVI01","name":"Tivi","score":100},{"code":"PEN01","name":"Pen","score":"1"}]`, rows: 2},
		{name: "codes json", kind: "codes", in: ` [ {"code":"C1","product_code":"TIVI01","serial":"s1"} ] `, rows: 1},
		{name: "gifts json with an id", kind: "gifts", in: `[{"code":"DAUMAY01","name":"Đầu máy","score":10,"id":"64d9f2ec2b3ba308b322c782"}]`, rows: 1},
		{name: "csv with a BOM", kind: "products", in: bom + "code,name,score\nTIVI01,Tivi,100\n", rows: 1},
		{name: "json with a BOM", kind: "products", in: bom + `[{"code":"TIVI01","name":"Tivi","score":100}]`, rows: 1},
		{name: "blank lines are skipped", kind: "products", in: "\n\ncode,name,score\n\nTIVI01,Tivi,100\n  \n\nPEN01,Pen,1\n\n", rows: 2},

		{name: "unknown kind", kind: "toys", in: "code\nx\n", err: "products, codes or gifts"},
		{name: "empty file", kind: "products", in: "", err: "empty"},
		{name: "blank file", kind: "products", in: "\n \n", err: "empty"},
		{name: "header only", kind: "products", in: "code,name,score\n", err: "no rows"},
		{name: "bad header", kind: "products", in: "sku;title;points\nTIVI01;Tivi;100\n", err: `line 1: the header lacks the column "code"`},
		{name: "missing column", kind: "gifts", in: "code,name\nDAUMAY01,Dau may\n", err: `line 1: the header lacks the column "score"`},
		{name: "missing column of codes", kind: "codes", in: "code,serial\nC1,s\n", err: `line 1: the header lacks the column "product_code"`},
		{name: "header after blank lines", kind: "codes", in: "\n\ncode,serial\nC1,s\n", err: `line 3: the header lacks`},
		{name: "non-numeric score", kind: "products", in: "code,name,score\nTIVI01,Tivi,100\nPEN01,Pen,ten\n", err: `line 3: score "ten"`},
		{name: "negative score", kind: "gifts", in: "code,name,score\nG,Gift,-1\n", err: `line 2: score "-1"`},
		{name: "fractional score", kind: "gifts", in: `[{"code":"G","name":"Gift","score":1.5}]`, err: `item 1 (line 1): score "1.5"`},
		{name: "empty code", kind: "codes", in: "code,product_code\nC1,TIVI01\n,TIVI01\n", err: "line 3: code is empty"},
		{name: "code with a space", kind: "codes", in: "code,product_code\nC 1,TIVI01\n", err: "line 2: code \"C 1\" contains spaces"},
		{name: "too few fields", kind: "products", in: "code,name,score\nTIVI01,Tivi\n", err: "line 2: 2 fields, the header has 3"},
		{name: "bare quote", kind: "products", in: "code,name,score\nTIVI01,Ti\"vi,100\n", err: "line 2: bare \""},
		{name: "unterminated quote", kind: "products", in: "code,name,score\nTIVI01,Tivi,100\nPEN01,\"Pen,1\n", err: "line 3:"},
		{name: "error line after a BOM and blank lines", kind: "products", in: bom + "code,name,score\n\nTIVI01,Tivi,100\n\nPEN01,Pen,x\n", err: "line 5:"},
		{name: "bad id", kind: "products", in: "code,name,score,id\nTIVI01,Tivi,100,xyz\n", err: `line 2: id "xyz"`},
		{name: "over-long name", kind: "products", in: "code,name,score\nP," + strings.Repeat("n", 300) + ",1\n", err: "line 2: name is longer"},
		{name: "broken json", kind: "products", in: "[\n{\"code\":\"TIVI01\",\"name\":\"Tivi\",\"score\":100},\n{\"code\":\"PEN01\",\"name\":\"Pen\" \"score\":1}\n]", err: "item 2 (line 3): the JSON is malformed"},
		{name: "json not closed", kind: "products", in: "[\n{\"code\":\"TIVI01\",\"name\":\"Tivi\",\"score\":100}\n", err: "not closed"},
		{name: "json item not an object", kind: "products", in: "[\n{\"code\":\"TIVI01\",\"name\":\"Tivi\",\"score\":100},\n7\n]", err: "item 2 (line 3): not a JSON object"},
		{name: "json nested value", kind: "products", in: `[{"code":"TIVI01","name":{"vi":"Tivi"},"score":100}]`, err: "item 1 (line 1): name must be a string or a number"},
		{name: "json missing field", kind: "codes", in: "[\n {\"code\":\"C1\",\"product_code\":\"P\"},\n {\"code\":\"C2\"}\n]", err: "item 2 (line 3): product_code is empty"},
		{name: "json object instead of an array", kind: "products", in: `{"code":"TIVI01","name":"Tivi","score":100}`, err: "must be an array"},
		{name: "json empty array", kind: "products", in: `[]`, err: "empty"},
		{name: "json with trailing text", kind: "products", in: "[{\"code\":\"A\",\"name\":\"A\",\"score\":1}]\n[]", err: "line 2: text after the end"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := edge.ParseCatalog(c.kind, strings.NewReader(c.in))
			if c.err == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if b.Len() != c.rows {
					t.Fatalf("%d rows, want %d", b.Len(), c.rows)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one with %q", c.err)
			}
			if edge.ErrorCode(err) != edge.EINVALID || !strings.Contains(edge.ErrorMessage(err), c.err) {
				t.Fatalf("error %q (%s), want an invalid one with %q", edge.ErrorMessage(err), edge.ErrorCode(err), c.err)
			}
		})
	}
	b, err := edge.ParseCatalog("gifts", strings.NewReader("Code , Name , Score\r\nDAUMAY01,\"Đầu máy, loại 1\", 10 \r\n"))
	if err != nil || b.Gifts[0] != (edge.Gift{Code: "DAUMAY01", Name: "Đầu máy, loại 1", Score: 10}) {
		t.Errorf("parsed %+v %v", b, err)
	}
	b, err = edge.ParseCatalog("codes", strings.NewReader("serial,note,product_code,code\nnpmx8b98pfg,x,TIVI01,TIVInpmx8b98pfg\n"))
	if err != nil || b.Codes[0] != (edge.AccumulationCode{Code: "TIVInpmx8b98pfg", ProductCode: "TIVI01", Serial: "npmx8b98pfg"}) {
		t.Errorf("parsed %+v %v", b, err)
	}
}

func TestCatalogImportScenarios(t *testing.T) {
	t.Parallel()
	usable := func(code string, want int) func(t *testing.T, h *harness, _ []byte) {
		return func(t *testing.T, h *harness, _ []byte) {
			t.Helper()
			if st, b := h.do("POST", "/accumulate", "", accumulateBody(code, "0867123456", "")); st != want {
				t.Errorf("accumulate %s: %d, want %d: %s", code, st, want, b)
			}
		}
	}
	runScenarios(t, []scenario{
		{name: "put products", method: "PUT", url: "/admin/v1/products", body: seedProducts, status: 200,
			contains: []string{`"ok":true`, `"kind":"products"`, `"rows":2`}},
		{name: "put codes", setup: func(t *testing.T, h *harness) { h.mustDo(200, "PUT", "/admin/v1/products", "", seedProducts) },
			method: "PUT", url: "/admin/v1/codes", body: seedCodes, status: 200, contains: []string{`"rows":2`},
			check: usable("TIVInpmx8b98pfg", 200)},
		{name: "put gifts", method: "PUT", url: "/admin/v1/gifts", body: seedGifts, status: 200, contains: []string{`"rows":2`}},
		{name: "put CSV", method: "PUT", url: "/admin/v1/products", body: "code,name,score\nTIVI01,Tivi,100\n", status: 200,
			contains: []string{`"rows":1`}},
		{name: "codes of an unknown product: nothing applied",
			setup:  func(t *testing.T, h *harness) { h.mustDo(200, "PUT", "/admin/v1/products", "", seedProducts) },
			method: "PUT", url: "/admin/v1/codes",
			body:   "[\n" + `{"code":"OK1","product_code":"TIVI01"},` + "\n" + `{"code":"OK2","product_code":"PEN01"},` + "\n" + `{"code":"BAD","product_code":"RADIO"}` + "\n]",
			status: 400, contains: []string{`"ok":false`, `"error":"invalid_file"`, `item 3 (line 4)`, `RADIO`},
			check: func(t *testing.T, h *harness, b []byte) {
				usable("OK1", 404)(t, h, b)
				usable("OK2", 404)(t, h, b)
			}},
		{name: "codes before their products", method: "PUT", url: "/admin/v1/codes",
			body: `[{"code":"C1","product_code":"TIVI01"}]`, status: 400, contains: []string{`not in the catalog`}},
		{name: "malformed products: nothing applied", method: "PUT", url: "/admin/v1/products",
			body: "code,name,score\nTIVI01,Tivi,100\nPEN01,Pen,ten\n", status: 400, contains: []string{`"ok":false`, `line 3`},
			check: func(t *testing.T, h *harness, _ []byte) {
				h.mustDo(400, "PUT", "/admin/v1/codes", "", `[{"code":"C9","product_code":"TIVI01"}]`) // TIVI01 (line 2) was not applied
			}},
		{name: "re-import changes names and scores, spent codes stay spent", setup: func(t *testing.T, h *harness) {
			seedEarned(t, h)
			h.mustDo(200, "PUT", "/admin/v1/products", "", `[{"code":"TIVI01","name":"Tivi 4K","score":150}]`)
			h.mustDo(200, "PUT", "/admin/v1/gifts", "", `[{"code":"DAUMAY01","name":"Đầu máy mới","score":30}]`)
		}, method: "PUT", url: "/admin/v1/codes", body: "code,product_code,serial\nTIVInpmx8b98pfg,TIVI01,npmx8b98pfg\nTIVI0002,TIVI01,s2\n",
			status: 200, check: func(t *testing.T, h *harness, _ []byte) {
				if st, b := h.do("POST", "/accumulate", "", seedAccumulate); st != 409 {
					t.Errorf("a spent code re-imported: %d %s", st, b)
				}
				b := decode(t, h.mustDo(200, "POST", "/accumulate", "", accumulateBody("TIVI0002", "", "xyz@example.com")))
				if b["score"] != float64(150) || b["balance"] != float64(250) {
					t.Errorf("after re-import: %v, want score 150 balance 250", b)
				}
				b = decode(t, h.mustDo(200, "POST", "/redeem", "", seedRedeem))
				if b["score"] != float64(30) || b["balance"] != float64(220) {
					t.Errorf("redeem after re-import: %v, want score 30 balance 220", b)
				}
				items := historyItems(t, h, "email=xyz@example.com")
				if len(items) != 3 || items[0]["gift"].(map[string]any)["name"] != "Đầu máy mới" ||
					items[1]["product"].(map[string]any)["name"] != "Tivi 4K" || items[2]["score"] != float64(100) {
					t.Errorf("history after re-import: %v", items)
				}
			}},
		{name: "product ids are kept by a re-import", setup: func(t *testing.T, h *harness) {
			h.mustDo(200, "PUT", "/admin/v1/products", "", `[{"code":"TIVI01","name":"Tivi","score":100,"id":"64d9f28b2b3ba308b322c710"}]`)
			h.mustDo(200, "PUT", "/admin/v1/products", "", `[{"code":"TIVI01","name":"Tivi","score":100}]`)
			h.mustDo(200, "PUT", "/admin/v1/codes", "", seedCodes[:strings.Index(seedCodes, "},")+1]+"]")
			h.mustDo(200, "POST", "/accumulate", "", seedAccumulate)
		}, method: "GET", url: "/history-point?email=xyz@example.com", status: 200,
			contains: []string{`"product":{"code":"TIVI01","name":"Tivi","id":"64d9f28b2b3ba308b322c710"}`}},
		{name: "empty array", method: "PUT", url: "/admin/v1/gifts", body: `[]`, status: 400, contains: []string{`"ok":false`, `empty`}},
		{name: "broken JSON", method: "PUT", url: "/admin/v1/gifts", body: `[{"code":"G","name":"G","score":1},{"code":`, status: 400,
			contains: []string{`"ok":false`, `item 2`}},
		{name: "unknown kind", method: "PUT", url: "/admin/v1/toys", body: `[]`, status: 404},
		{name: "no token", method: "PUT", url: "/admin/v1/products", token: "none", body: seedProducts, status: 401,
			contains: []string{`"ok":false`}},
		{name: "non-admin token", method: "PUT", url: "/admin/v1/products", token: "plain", body: seedProducts, status: 403,
			contains: []string{`"ok":false`, `"error":"forbidden"`}},
		{name: "catalog loading is not forwarded", opts: []func(*harnessOptions){withOfflineUpstream},
			method: "PUT", url: "/admin/v1/products", body: seedProducts, status: 200,
			check: func(t *testing.T, h *harness, _ []byte) {
				if n := h.outboxLen(); n != 0 {
					t.Errorf("a catalog import queued %d events", n)
				}
			}},
	})
}

// TestCatalogImportIsAllOrNothing checks the domain call directly: a batch
// that fails in the store leaves nothing behind.
func TestCatalogImportIsAllOrNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	seedCatalog(t, h)
	b, err := edge.ParseCatalog("codes", strings.NewReader("code,product_code\nN1,TIVI01\nN2,TIVI01\nN3,NOPE\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = h.svc.ImportCatalog(ctx, b, nil)
	if edge.ErrorCode(err) != edge.EINVALID || !strings.Contains(edge.ErrorMessage(err), "line 4") {
		t.Fatalf("import: %v, want invalid naming line 4", err)
	}
	if st, _ := h.do("POST", "/accumulate", "", accumulateBody("N1", "0867123456", "")); st != 404 {
		t.Errorf("N1 of a refused file is usable: %d", st)
	}
	var calls []int
	b, _ = edge.ParseCatalog("codes", strings.NewReader("code,product_code\nN1,TIVI01\nN2,TIVI01\n"))
	if err := h.svc.ImportCatalog(ctx, b, func(done, total int) { calls = append(calls, done, total) }); err != nil {
		t.Fatal(err)
	}
	if len(calls) == 0 || calls[len(calls)-2] != 2 || calls[len(calls)-1] != 2 {
		t.Errorf("progress calls %v, want to end with 2/2", calls)
	}
}
