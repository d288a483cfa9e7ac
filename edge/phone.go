package edge

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nyaruka/phonenumbers"
)

// retiredPrefixes maps the 11-digit mobile prefixes Vietnam retired in 2018 to
// their 10-digit replacements. Customers still type their old numbers; both must
// find the same member.
var retiredPrefixes = map[string]string{
	"0162": "032", "0163": "033", "0164": "034", "0165": "035", "0166": "036",
	"0167": "037", "0168": "038", "0169": "039",
	"0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",
	"0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",
	"0186": "056", "0188": "058", "0199": "059",
}

// NormalizePhone parses a phone number as typed at a till and returns its E.164
// form (+84945350398). Numbers without a country code are read as Vietnamese.
// The error is an EINVALID naming the field "phone".
func NormalizePhone(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", Invalid("phone", "phone is required")
	}
	if len(s) > 32 {
		return "", Invalid("phone", "phone is not a valid phone number")
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '.' || r == '-' || r == '(' || r == ')':
			// separators people type; dropped
		default:
			return "", Invalid("phone", "phone is not a valid phone number")
		}
	}
	digits := b.String()
	switch {
	case strings.HasPrefix(digits, "+84"):
		digits = "0" + digits[3:]
	case strings.HasPrefix(digits, "0084"):
		digits = "0" + digits[4:]
	case strings.HasPrefix(digits, "00"):
		digits = "+" + digits[2:]
	case strings.HasPrefix(digits, "84") && len(digits) >= 11:
		// 84xxxxxxxxx: the country code typed without "+". A Vietnamese
		// national number always starts with 0, so there is no ambiguity.
		digits = "0" + digits[2:]
	}
	if len(digits) == 11 && strings.HasPrefix(digits, "01") {
		if repl, ok := retiredPrefixes[digits[:4]]; ok {
			digits = repl + digits[4:]
		}
	}
	if e164, ok := phoneCache.Load(digits); ok {
		return e164.(string), nil
	}
	num, err := phonenumbers.Parse(digits, "VN")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", Invalid("phone", "phone is not a valid phone number")
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	if len(e164) > 16 {
		// E.164 allows 15 digits; the library's metadata lets a few
		// longer ones through (found by FuzzNormalizePhone).
		return "", Invalid("phone", "phone is not a valid phone number")
	}
	if phoneCacheLen.Add(1) > maxCachedPhones {
		phoneCache.Clear()
		phoneCacheLen.Store(0)
	}
	phoneCache.Store(digits, e164)
	return e164, nil
}

// phoneCache memoizes the phone library's verdict on valid numbers (digits →
// E.164): parsing and validating costs more than the rest of a member lookup,
// and a shop's tills ask about the same customers all day. The function is
// pure, so the cache changes nothing but the time; it is emptied when full.
var (
	phoneCache    sync.Map
	phoneCacheLen atomic.Int64
)

const maxCachedPhones = 100_000

// DisplayPhone renders an E.164 number the way the APIs show it: a Vietnamese
// number in national form as digits only (0945350398), any other in E.164.
func DisplayPhone(e164 string) string {
	if strings.HasPrefix(e164, "+84") {
		return "0" + e164[3:]
	}
	return e164
}

// maskPhone shows a phone as typed for the log: all but its last three digits
// hidden (and at most 16 characters, whatever was typed).
func maskPhone(raw string) string {
	var last []rune
	n := 0
	for _, r := range raw {
		n++
		if r >= '0' && r <= '9' {
			last = append(last, r)
		}
	}
	if len(last) > 3 {
		last = last[len(last)-3:]
	}
	stars := min(max(n-len(last), 3), 16-len(last))
	return strings.Repeat("*", stars) + string(last)
}
