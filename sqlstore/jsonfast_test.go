package sqlstore

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The fast decoders agree with encoding/json on everything they accept, and
// hand the rest over to it.
func TestFastJSONDecodersAgreeWithEncodingJSON(t *testing.T) {
	t.Parallel()
	rows := []string{
		`[]`, `[["+84900000001","6600","mobile"]]`, `[["a","b","c"],["d","e",""]]`,
		`[["có dấu","ü","日本"]]`, `[["a\"b","c\\d","e\u0001"]]`, `[["a","b","c"], ["d","e","f"]]`,
		`[["a","b"]]`, `[["a","b","c","d"]]`, `[[1,"b","c"]]`, `[["a","b","c"]`, `["a"]`, `{}`, ``, `[[]]`,
		`[["a","b","c"],]`, `[["a","b","c"]x]`,
	}
	for _, s := range rows {
		got, err := stringRows(s, 3)
		var want [][]string
		werr := json.Unmarshal([]byte(s), &want)
		for _, r := range want {
			if len(r) != 3 {
				werr = errWrongLen
			}
		}
		if (err != nil) != (werr != nil) || err == nil && !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("stringRows(%q) = %q, %v; encoding/json: %q, %v", s, got, err, want, werr)
		}
	}
	maps := []string{
		`{}`, `{"address":"12 Tran Hung Dao","home_town":"Ha Noi"}`, `{"a":"\u003cb\u003e","c":"d"}`,
		`{"a":"x","a":"y"}`, `{"a":1}`, `{"a":"b",}`, `{"a" :"b"}`, `{"a":"b"`, `[]`, `{"a":"Đà Nẵng"}`,
	}
	for _, s := range maps {
		got, err := stringMap(s)
		var want map[string]string
		werr := json.Unmarshal([]byte(s), &want)
		if (err != nil) != (werr != nil) || err == nil && !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("stringMap(%q) = %q, %v; encoding/json: %q, %v", s, got, err, want, werr)
		}
	}
}

var errWrongLen = json.Unmarshal([]byte(`x`), new(int))
