package edge

import (
	"bytes"
	"errors"
	"reflect"
	"regexp"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// e164Re is E.164: "+", a country code that does not start with 0, at most
// 15 digits in all. (Some countries have very short valid numbers: the
// library accepts +49 1680, found by this fuzzer.)
var e164Re = regexp.MustCompile(`^\+[1-9][0-9]{2,14}$`)

// FuzzNormalizePhone: whatever a till sends, the answer is an E.164 number
// that normalises to itself (also from its display form), or an EINVALID
// naming "phone".
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"0945350398", "+84945350398", "84945350398", "0084945350398", "0945 350 398",
		"01623456789", "+841623456789", "02439421234", "+14155552671", "023232", "", "++84", "(094) 535-0398"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := NormalizePhone(raw)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != EINVALID || e.Field != "phone" {
				t.Fatalf("NormalizePhone(%q): %v is not an EINVALID on phone", raw, err)
			}
			return
		}
		if !e164Re.MatchString(out) {
			t.Fatalf("NormalizePhone(%q) = %q: not E.164", raw, out)
		}
		again, err := NormalizePhone(out)
		if err != nil || again != out {
			t.Fatalf("NormalizePhone(%q) = %q, but NormalizePhone(%q) = %q, %v", raw, out, out, again, err)
		}
		shown, err := NormalizePhone(DisplayPhone(out))
		if err != nil || shown != out {
			t.Fatalf("NormalizePhone(%q) = %q, but its display form %q gives %q, %v", raw, out, DisplayPhone(out), shown, err)
		}
	})
}

// FuzzParseCatalog: a catalog file, CSV or JSON, parses into rows that each
// pass the row rules, or is refused with an EINVALID; reading it a byte at
// a time gives the same answer.
func FuzzParseCatalog(f *testing.F) {
	f.Add(uint8(0), []byte("code,name,score\nTIVI01,TV,100\n"))
	f.Add(uint8(1), []byte("code,product_code,serial\nTIVInpmx8b98pfg,TIVI01,npmx8b98pfg\n"))
	f.Add(uint8(2), []byte(`[{"code":"DAUMAY01","name":"Máy","score":10}]`))
	f.Add(uint8(0), []byte("\xef\xbb\xbfcode,name,score,id\r\nA,\"Tivi, 42\"\"\",5,0123456789abcdef01234567\r\n"))
	f.Add(uint8(1), []byte(`[{"code":"C1","product_code":"TIVI01"},{"code":"C2","product_code":"TIVI01","serial":7}]`))
	kinds := []string{CatalogProducts, CatalogCodes, CatalogGifts}
	f.Fuzz(func(t *testing.T, k uint8, data []byte) {
		kind := kinds[int(k)%len(kinds)]
		b, err := ParseCatalog(kind, bytes.NewReader(data))
		slow, slowErr := ParseCatalog(kind, iotest.OneByteReader(bytes.NewReader(data)))
		if (err == nil) != (slowErr == nil) || err == nil && !reflect.DeepEqual(b, slow) {
			t.Fatalf("read at once: %v, %v; a byte at a time: %v, %v", b, err, slow, slowErr)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != EINVALID {
				t.Fatalf("error %v is not an EINVALID", err)
			}
			if !utf8.ValidString(e.Message) {
				t.Fatalf("error message is not UTF-8: %q", e.Message)
			}
			return
		}
		if b.Len() == 0 {
			t.Fatalf("no rows and no error")
		}
		text := func(what, s string, required bool) {
			if required && s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxTextLen || bytes.IndexByte([]byte(s), 0) >= 0 {
				t.Fatalf("%s %q passed the row rules", what, s)
			}
		}
		for _, p := range b.Products {
			text("product code", p.Code, true)
			text("product name", p.Name, true)
			if p.Score < 0 || p.Score > 1_000_000_000 || p.ID != "" && !ValidID(p.ID) {
				t.Fatalf("product %+v passed the row rules", p)
			}
		}
		for _, g := range b.Gifts {
			text("gift code", g.Code, true)
			text("gift name", g.Name, true)
			if g.Score < 0 || g.Score > 1_000_000_000 || g.ID != "" && !ValidID(g.ID) {
				t.Fatalf("gift %+v passed the row rules", g)
			}
		}
		for _, c := range b.Codes {
			text("code", c.Code, true)
			text("product_code", c.ProductCode, true)
			text("serial", c.Serial, false)
			if bytes.ContainsAny([]byte(c.Code), " \t") {
				t.Fatalf("code %q with spaces passed", c.Code)
			}
		}
	})
}
