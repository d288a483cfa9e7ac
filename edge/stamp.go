package edge

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// stampFast is stampBody without reflection: the body's members are split by
// a scanner instead of decoded into a map, and written back as encoding/json
// writes a map[string]json.RawMessage (keys sorted, values compacted, <, >, &,
// U+2028 and U+2029 escaped), so the result is byte for byte stampBodySlow's
// (TestStampBodyFastIsSlow). It does that several times faster, which counts
// on the write paths: the member writes stamp inside the single writer. ok is
// false when a field's value is not a string; the caller then takes the slow
// path.
func stampFast(body []byte, fields map[string]any, nested string, nestedFields map[string]any) (out []byte, ok bool) {
	top := make([]member, 0, 8)
	for k, v := range fields {
		s, isStr := v.(string)
		if !isStr {
			return nil, false
		}
		top = append(top, member{key: k, val: appendJSONString(nil, s)})
	}
	var in []member
	for k, v := range nestedFields {
		s, isStr := v.(string)
		if !isStr {
			return nil, false
		}
		in = append(in, member{key: k, val: appendJSONString(nil, s)})
	}
	if !json.Valid(body) {
		return body, true // json.Unmarshal fails: unchanged
	}
	obj, isObj := members(body)
	if !isObj {
		return body, true // null, or not an object: unchanged
	}
	for _, m := range top {
		obj = set(obj, m.key, m.val)
	}
	if nested != "" && len(in) > 0 {
		if i := slices.IndexFunc(obj, func(m member) bool { return m.key == nested }); i >= 0 {
			if inner, isObj := members(obj[i].val); isObj {
				for _, m := range in {
					inner = set(inner, m.key, m.val)
				}
				obj[i].val = encodeMembers(nil, inner)
			}
		}
	}
	return encodeMembers(make([]byte, 0, len(body)+64), obj), true
}

// member is one key and raw value of a JSON object.
type member struct {
	key string // decoded
	val []byte // raw
}

// set replaces key's value, or adds the key.
func set(ms []member, key string, val []byte) []member {
	for i := range ms {
		if ms[i].key == key {
			ms[i].val = val
			return ms
		}
	}
	return append(ms, member{key: key, val: val})
}

// members splits a valid JSON value into its members when it is an object
// (a key given twice keeps its last value, as decoding into a map does).
func members(v []byte) ([]member, bool) {
	v = bytes.TrimLeft(v, " \t\r\n")
	if len(v) == 0 || v[0] != '{' {
		return nil, false
	}
	out := make([]member, 0, 8)
	i := skipWS(v, 1)
	if v[i] == '}' {
		return out, true
	}
	for {
		end := skipString(v, i)
		key := decodeKey(v[i:end])
		i = skipWS(v, end)
		i = skipWS(v, i+1) // ':'
		vend := skipValue(v, i)
		out = set(out, key, v[i:vend])
		i = skipWS(v, vend)
		if v[i] == '}' {
			return out, true
		}
		i = skipWS(v, i+1) // ','
	}
}

// decodeKey is a JSON string token as encoding/json decodes it.
func decodeKey(tok []byte) string {
	plain := true
	for _, c := range tok[1 : len(tok)-1] {
		if c == '\\' || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		return string(tok[1 : len(tok)-1])
	}
	var s string
	_ = json.Unmarshal(tok, &s)
	return s
}

func skipWS(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index after the string token starting at v[i].
func skipString(v []byte, i int) int {
	for i++; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the (valid) value starting at v[i].
func skipValue(v []byte, i int) int {
	switch v[i] {
	case '"':
		return skipString(v, i)
	case '{', '[':
		depth := 0
		for ; i < len(v); i++ {
			switch v[i] {
			case '"':
				i = skipString(v, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	default: // number, true, false, null
		for ; i < len(v); i++ {
			switch v[i] {
			case ' ', '\t', '\r', '\n', ',', '}', ']':
				return i
			}
		}
		return i
	}
}

// encodeMembers appends ms as json.Marshal writes a map[string]json.RawMessage.
func encodeMembers(dst []byte, ms []member) []byte {
	slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
	dst = append(dst, '{')
	for i, m := range ms {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendKey(dst, m.key)
		dst = append(dst, ':')
		dst = appendCompact(dst, m.val)
	}
	return append(dst, '}')
}

func appendKey(dst []byte, k string) []byte {
	return appendJSONString(dst, k)
}

// appendCompact is what encoding/json does to a RawMessage it marshals:
// drop the whitespace between tokens, and escape <, >, & and U+2028/U+2029
// (in strings: elsewhere valid JSON has none) as \u003c, \u2028, ...
func appendCompact(dst, raw []byte) []byte {
	const hex = "0123456789abcdef"
	inString, escaped := false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case c == '<' || c == '>' || c == '&':
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			continue
		case c == 0xe2 && i+2 < len(raw) && raw[i+1] == 0x80 && raw[i+2]&^1 == 0xa8:
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[raw[i+2]&0xf])
			i += 2
			continue
		case inString:
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		case c == '"':
			inString = true
		}
		dst = append(dst, c)
	}
	return dst
}

// appendJSONString appends s as encoding/json encodes a string. Text that
// needs no escaping (every code, id and nearly every name) is copied as it
// is; anything else goes through encoding/json itself.
func appendJSONString(dst []byte, s string) []byte {
	wide := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return appendMarshalled(dst, s)
		case c >= utf8.RuneSelf:
			wide = true
		}
	}
	// encoding/json also rewrites invalid UTF-8 and escapes U+2028/U+2029.
	if wide && (!utf8.ValidString(s) || strings.ContainsRune(s, '\u2028') || strings.ContainsRune(s, '\u2029')) {
		return appendMarshalled(dst, s)
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

func appendMarshalled(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return append(dst, b...)
}
