package edge

import "testing"

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
