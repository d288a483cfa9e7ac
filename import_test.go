package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBinaryLoyaltyWalkthrough is the README's loyalty walk-through: the seed
// catalog from CSV and JSON files through the CLI, a malformed file refused
// whole, then the seed's accumulate and redeem over HTTP.
func TestBinaryLoyaltyWalkthrough(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"products.csv": "\ufeffcode,name,score\r\nTIVI01,Tivi,100\r\n",
		"codes.csv":    "code,product_code,serial\nTIVInpmx8b98pfg,TIVI01,npmx8b98pfg\n",
		"gifts.json":   `[{"code":"DAUMAY01","name":"Đầu máy","score":10}]`,
		"bad.csv":      "code,product_code,serial\nTIVI0002,TIVI01,s2\n\nTIVI0003,RADIO01,s3\n",
		"bad.json":     "[\n{\"code\":\"X\",\"name\":\"X\",\"score\":1},\n{\"code\":\"Y\",\"name\":\"Y\",\"score\":\"many\"}\n]",
	})
	for _, kind := range []string{"products", "codes"} {
		if out := runCLI(t, dir, "import", kind, kind+".csv"); !strings.HasPrefix(out, "imported 1 "+kind+" in ") {
			t.Fatalf("import %s: %q", kind, out)
		}
	}
	if out := runCLI(t, dir, "import", "gifts", "gifts.json"); !strings.HasPrefix(out, "imported 1 gifts in ") {
		t.Fatalf("import gifts: %q", out)
	}
	if msg := runCLIFail(t, dir, "import", "codes", "bad.csv"); !strings.Contains(msg, "bad.csv: line 4:") || !strings.Contains(msg, "RADIO01") ||
		!strings.Contains(msg, "nothing imported") {
		t.Errorf("bad codes: %q", msg)
	}
	if msg := runCLIFail(t, dir, "import", "products", "bad.json"); !strings.Contains(msg, "item 2 (line 3)") {
		t.Errorf("bad products: %q", msg)
	}
	if msg := runCLIFail(t, dir, "import", "toys", "bad.json"); !strings.Contains(msg, "products, codes or gifts") {
		t.Errorf("bad kind: %q", msg)
	}
	if msg := runCLIFail(t, dir, "import", "codes", "missing.csv"); !strings.Contains(msg, "missing.csv") {
		t.Errorf("missing file: %q", msg)
	}

	p := startServe(t, dir, "--org", "62c10674cbe832bc9245a5b8")
	// Line 2 of the refused file was not applied.
	if st, body := request(t, "POST", p.URL+"/accumulate", p.Token,
		`{"code":"TIVI0002","data":{"phones":[{"type":"Work","value":"0867123456"}]}}`); st != 404 {
		t.Errorf("a code of a refused file: %d %s", st, body)
	}
	st, body := request(t, "POST", p.URL+"/accumulate", p.Token,
		`{"code":"TIVInpmx8b98pfg","data":{"emails":[{"type":"Work","value":"xyz@example.com"}],"name":"thong","phones":[{"type":"Work","value":"023232"}]}}`)
	if st != 200 || !strings.Contains(body, `"balance":100`) {
		t.Fatalf("seed accumulate: %d %s", st, body)
	}
	st, body = request(t, "POST", p.URL+"/redeem", p.Token, `{"code":"DAUMAY01","data":{"email":"xyz@example.com","phone":"023232"}}`)
	if st != 200 || !strings.Contains(body, `"balance":90`) {
		t.Fatalf("seed redeem: %d %s", st, body)
	}
	st, body = request(t, "GET", p.URL+"/history-point?email=xyz@example.com", p.Token, "")
	var items []map[string]any
	if err := json.Unmarshal([]byte(body), &items); st != 200 || err != nil || len(items) != 2 {
		t.Fatalf("history: %d %v %s", st, err, body)
	}
	if items[0]["type"] != float64(2) || items[1]["type"] != float64(1) || items[1]["serialNumber"] != "npmx8b98pfg" ||
		items[0]["org"] != "62c10674cbe832bc9245a5b8" || items[0]["gift"].(map[string]any)["name"] != "Đầu máy" {
		t.Errorf("history: %s", body)
	}
	// An import while serving takes effect at once; a re-import keeps the
	// spent code spent.
	writeFiles(t, dir, map[string]string{"more.csv": "code,product_code,serial\nTIVInpmx8b98pfg,TIVI01,npmx8b98pfg\nTIVI0002,TIVI01,s2\n"})
	runCLI(t, dir, "import", "codes", "more.csv")
	if st, body = request(t, "POST", p.URL+"/accumulate", p.Token,
		`{"code":"TIVI0002","data":{"emails":[{"type":"Work","value":"xyz@example.com"}]}}`); st != 200 || !strings.Contains(body, `"balance":190`) {
		t.Errorf("a code imported while serving: %d %s", st, body)
	}
	if st, body = request(t, "POST", p.URL+"/accumulate", p.Token,
		`{"code":"TIVInpmx8b98pfg","data":{"emails":[{"type":"Work","value":"xyz@example.com"}]}}`); st != 409 {
		t.Errorf("a spent code re-imported: %d %s", st, body)
	}
	if st, body = request(t, "GET", p.URL+"/balance?email=xyz@example.com", p.Token, ""); st != 200 ||
		!strings.Contains(body, `"balance":190`) {
		t.Errorf("balance: %d %s", st, body)
	}
	p.Stop()
}
