package edge

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

type queuingUpstream struct{ Upstream }

// TestPointsStampIsStampBody: the outbox body an accumulate or redeem stamps
// before its write, with the customer's id copied in by the write, is byte for
// byte the body stampBody gives, whatever the request's body holds (the
// placeholder itself included), and whichever entry id the write ends with.
func TestPointsStampIsStampBody(t *testing.T) {
	s := NewService(Config{Upstream: queuingUpstream{}})
	const entry, customer = "6a0000000000000000000042", "650000000000000000000007"
	for _, body := range []string{
		`{"code":"C1","data":{"name":"An","phones":[{"type":"mobile","value":"0900000007"}],"emails":[]}}`,
		`{"code":"C1","id":"wanted","data":{"_id":"x","name":"An"}}`,
		`{"code":"C1","data":{"name":"` + customerPlaceholder + `"}}`,
		`{"code":"C1","note":"` + customerPlaceholder + `","data":{}}`,
		`{"code":"C1","data":"not an object"}`,
		`{"code":"C1"}`,
		`["not","an","object"]`,
		`{"code":"C1","data":{"phones":[]},"data2":{"_id":"y"}}`,
	} {
		for _, used := range []string{entry, "6a00000000000000000000ff"} {
			want := string(stampBody([]byte(body), map[string]any{"id": used}, "data", map[string]any{"_id": customer}))
			st := s.newPointsStamp([]byte(body), entry)
			if got := string(st.body([]byte(body), entry, used, customer)); got != want {
				t.Errorf("body %s, entry %s:\n got %s\nwant %s", body, used, got, want)
			}
		}
	}
	// Standalone, nothing is queued and the body is left as it is.
	alone := NewService(Config{}).newPointsStamp([]byte(`{"code":"C1","data":{}}`), entry)
	if got := string(alone.body([]byte(`{"code":"C1","data":{}}`), entry, entry, customer)); got != `{"code":"C1","data":{}}` {
		t.Errorf("standalone: %s", got)
	}
}

// TestStampBodyFastIsSlow: stampFast writes byte for byte what encoding/json
// writes (stampBodySlow), on bodies a till sends and on odd ones: duplicate
// and escaped keys, whitespace, HTML characters, nested values of every kind,
// invalid JSON, and many random objects.
func TestStampBodyFastIsSlow(t *testing.T) {
	t.Parallel()
	bodies := []string{
		`{"code":"C1","data":{"name":"An","phones":[{"type":"mobile","value":"0900000007"}],"emails":[]}}`,
		" \n{ \"b\" : 1 , \"a\" : [ 1 , { \"x\" : \"<&>\" } ] , \"data\" : { \"z\" : null, \"_id\" : 5 } }\t",
		`{"a":1,"a":2,"data":{"k":1,"k":"two"},"data":{"k":3}}`,
		`{"\u0061":1,"a":2,"d\u00e9j\u00e0":"vu","\ud83d\ude00":"\u2028\u2029","data":{"<k>":"&amp;"}}`,
		`{"data":null}`, `{"data":[1,2]}`, `{"data":"s"}`, `{"data":{}}`, `{}`, `null`, `[]`, `"s"`, `1`,
		`{"code":"C1"`, `{"a":}`, ``, `   `, "{\"a\":\"\xff\xfe\"}", "{\"\xff\":1}",
		`{"n":-1.5e+10,"t":true,"f":false,"s":"a\"b\\c\/d\n","data":{"deep":{"deeper":[{"x":"}"}]}}}`,
		`{"id":"old","data":{"_id":"old"}}`,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var value func(depth int) string
	value = func(depth int) string {
		switch rng.IntN(8) {
		case 0:
			return `null`
		case 1:
			return strconv.Itoa(rng.IntN(1000) - 500)
		case 2:
			return `"` + []string{"x", "<b>", "a&b", "\\n", "\\u00e9", "é", "\u2028", " sp ", `\"`}[rng.IntN(9)] + `"`
		case 3, 4:
			if depth > 2 {
				return `true`
			}
			var parts []string
			for range rng.IntN(4) {
				parts = append(parts, fmt.Sprintf(`%s"%s" : %s`, []string{"", " ", "\n"}[rng.IntN(3)],
					[]string{"id", "_id", "data", "a", "b", "<", "é", "\\u0041"}[rng.IntN(8)], value(depth+1)))
			}
			return "{" + strings.Join(parts, ",") + "}"
		case 5:
			if depth > 2 {
				return `false`
			}
			return "[" + value(depth+1) + " , " + value(depth+1) + "]"
		default:
			return `"plain"`
		}
	}
	for range 3000 {
		bodies = append(bodies, value(0))
	}
	for _, body := range bodies {
		for _, c := range []struct {
			fields       map[string]any
			nested       string
			nestedFields map[string]any
		}{
			{map[string]any{"id": "6a0000000000000000000042"}, "data", map[string]any{"_id": "650000000000000000000007"}},
			{map[string]any{"_id": "650000000000000000000007"}, "", nil},
			{map[string]any{"id": "<x>"}, "data", map[string]any{"_id": "a\"b", "k": "é"}},
		} {
			want := string(stampBodySlow([]byte(body), c.fields, c.nested, c.nestedFields))
			if got := string(stampBody([]byte(body), c.fields, c.nested, c.nestedFields)); got != want {
				t.Fatalf("body %q, fields %v %s %v:\n got %s\nwant %s", body, c.fields, c.nested, c.nestedFields, got, want)
			}
		}
	}
	// A value that is not a string takes the slow path, with the same result.
	body := []byte(`{"a":1}`)
	if got, want := string(stampBody(body, map[string]any{"n": 5}, "", nil)), string(stampBodySlow(body, map[string]any{"n": 5}, "", nil)); got != want {
		t.Errorf("number field: %s, want %s", got, want)
	}
}

// appendHistoryPage must write exactly what encoding/json writes for the
// items with their contact inline, for every kind of text.
func TestHistoryPageEncoding(t *testing.T) {
	t.Parallel()
	texts := []string{"", "TIVI01", "Tivi Sony 55\"", "Đầu máy <DVD> & loa", "a\\b", "tab\there\n", "\x00nul",
		"bad \xff utf-8", "line\u2028sep\u2029", "only\u2028", "emoji 🎁", `"contact":0`, "é"}
	rng := rand.New(rand.NewPCG(7, 11))
	pick := func() string { return texts[rng.IntN(len(texts))] }
	c := &Customer{ID: "650000000000000000000007", No: 7, Name: `Ann <&> "A"`, Attrs: map[string]string{AttrLastName: "Lê"},
		Phones: []Phone{{ID: "p1", Type: "mobile", Number: "+84900000007"}}, Emails: []Email{{ID: "e1", Address: "a&b@example.com"}}}
	contact, err := json.Marshal(contactView(c))
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 200; round++ {
		entries := make([]LedgerEntry, rng.IntN(21))
		for i := range entries {
			entries[i] = LedgerEntry{ID: pick(), Type: 1 + rng.IntN(2), Score: rng.Int64N(1e6) - 1000, Status: rng.IntN(2),
				ItemCode: pick(), ItemName: pick(), ItemID: pick(), ItemScore: rng.Int64N(500), Code: pick(), Serial: pick(),
				Org: pick(), CreatedAt: time.UnixMilli(rng.Int64N(2e12))}
		}
		want := []historyItem{}
		for i := range entries {
			want = append(want, historyView(&entries[i], contact))
		}
		wantJSON, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendHistoryPage(nil, entries, contact); string(got) != string(wantJSON) {
			t.Fatalf("round %d:\n%s\nwant\n%s", round, got, wantJSON)
		}
	}
}

// historyView is the seed's item for e, the reference appendHistoryItem is
// checked against.
func historyView(e *LedgerEntry, contact json.RawMessage) historyItem {
	it := historyItem{Type: e.Type, Score: e.Score, Status: e.Status, Contact: contact, Org: e.Org,
		CreatedAt: e.CreatedAt.UnixMilli(), ID: e.ID}
	if e.Type == EntryAccumulate {
		it.Product = &productJSON{Code: e.ItemCode, Name: e.ItemName, ID: e.ItemID}
		it.Code, it.SerialNumber = e.Code, e.Serial
	} else {
		it.Gift = &giftJSON{Code: e.ItemCode, Name: e.ItemName, Score: e.ItemScore, ID: e.ItemID}
	}
	return it
}
