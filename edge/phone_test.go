package edge

import "testing"

func TestNormalizePhone(t *testing.T) {
	accepted := []struct{ in, want string }{
		{"0945350398", "+84945350398"},
		{"+84945350398", "+84945350398"},
		{"84945350398", "+84945350398"},
		{"0084945350398", "+84945350398"},
		{"0945 350 398", "+84945350398"},
		{"0945.350.398", "+84945350398"},
		{"0945-350-398", "+84945350398"},
		{"(094) 535-0398", "+84945350398"},
		{" 0945350398 ", "+84945350398"},
		{"+84 945 350 398", "+84945350398"},
		// 2018 renumbering of 11-digit mobiles, in every written form.
		{"01623456789", "+84323456789"},
		{"+841623456789", "+84323456789"},
		{"841623456789", "+84323456789"},
		{"0169 345 6789", "+84393456789"},
		{"01203456789", "+84703456789"},
		{"01213456789", "+84793456789"},
		{"01223456789", "+84773456789"},
		{"01263456789", "+84763456789"},
		{"01283456789", "+84783456789"},
		{"01233456789", "+84833456789"},
		{"01243456789", "+84843456789"},
		{"01253456789", "+84853456789"},
		{"01273456789", "+84813456789"},
		{"01293456789", "+84823456789"},
		{"01863456789", "+84563456789"},
		{"01883456789", "+84583456789"},
		{"01993456789", "+84593456789"},
		// Landline (Hà Nội) and a foreign number with its country code.
		{"02439421234", "+842439421234"},
		{"+14155552671", "+14155552671"},
	}
	for _, c := range accepted {
		got, err := NormalizePhone(c.in)
		if err != nil {
			t.Errorf("NormalizePhone(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("NormalizePhone(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	rejected := []string{
		"", "   ", "abc", "0945abc398", "023232", "12345", "+", "0945350398#", "09453503981234567",
		"094535039\x00", "++84945350398", "0945/350/398", "+999123", strings32(),
	}
	for _, in := range rejected {
		if got, err := NormalizePhone(in); err == nil {
			t.Errorf("NormalizePhone(%q) = %q, want an error", in, got)
		} else if e, ok := err.(*Error); !ok || e.Code != EINVALID || e.Field != "phone" {
			t.Errorf("NormalizePhone(%q): error %v is not an EINVALID on phone", in, err)
		}
	}
}

func strings32() string { return "094535039809453503980945350398000" }

func TestDisplayPhone(t *testing.T) {
	for in, want := range map[string]string{"+84945350398": "0945350398", "+14155552671": "+14155552671"} {
		if got := DisplayPhone(in); got != want {
			t.Errorf("DisplayPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"023232", "***232"},
		{"0945 350 398 12", "************812"},
		{"12", "***12"},
		{"abc", "***"},
		{"", "***"},
		{"0123456789012345678901234567890123456789", "*************789"},
		{"số 0912", "****912"},
	} {
		if got := maskPhone(c.in); got != c.want {
			t.Errorf("maskPhone(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
