package sqlstore

import (
	"encoding/json"
	"fmt"
)

// Decoding the few small JSON values a customer row holds (its attributes,
// and the phone, email and type lists customerQuery builds) with
// encoding/json costs more than the query that reads them. These decoders
// take the common shape, plain strings without escapes, in one pass; anything
// else (an escape, a number, a space) goes to encoding/json.

// stringRows decodes a JSON array of arrays of n strings.
func stringRows(s string, n int) ([][]string, error) {
	if rows, ok := fastStringRows(s, n); ok {
		return rows, nil
	}
	var rows [][]string
	if err := json.Unmarshal([]byte(s), &rows); err != nil {
		return nil, err
	}
	for _, r := range rows {
		if len(r) != n {
			return nil, fmt.Errorf("a row of %d values, want %d", len(r), n)
		}
	}
	return rows, nil
}

func fastStringRows(s string, n int) ([][]string, bool) {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, false
	}
	var rows [][]string
	i := 1
	for i < len(s)-1 {
		if len(rows) > 0 {
			if s[i] != ',' {
				return nil, false
			}
			i++
		}
		if i >= len(s) || s[i] != '[' {
			return nil, false
		}
		i++
		row := make([]string, 0, n)
		for {
			v, next, ok := plainString(s, i)
			if !ok {
				return nil, false
			}
			row, i = append(row, v), next
			if i >= len(s) {
				return nil, false
			}
			if s[i] == ']' {
				i++
				break
			}
			if s[i] != ',' {
				return nil, false
			}
			i++
		}
		if len(row) != n {
			return nil, false
		}
		rows = append(rows, row)
	}
	return rows, i == len(s)-1
}

// stringMap decodes a JSON object of strings.
func stringMap(s string) (map[string]string, error) {
	if m, ok := fastStringMap(s); ok {
		return m, nil
	}
	var m map[string]string
	err := json.Unmarshal([]byte(s), &m)
	return m, err
}

func fastStringMap(s string) (map[string]string, bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, false
	}
	m := make(map[string]string, 4)
	i := 1
	for i < len(s)-1 {
		if len(m) > 0 {
			if s[i] != ',' {
				return nil, false
			}
			i++
		}
		k, next, ok := plainString(s, i)
		if !ok || next >= len(s) || s[next] != ':' {
			return nil, false
		}
		v, next, ok := plainString(s, next+1)
		if !ok {
			return nil, false
		}
		m[k], i = v, next
	}
	return m, i == len(s)-1
}

// plainString reads the JSON string starting at s[i] when it holds no
// escape, returning it and the index after its closing quote.
func plainString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return s[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return "", 0, false
		}
	}
	return "", 0, false
}
