package edge

import "strconv"

// A history page is the answer a till asks for most after a member lookup,
// and encoding/json spent a third of its CPU on it: reflection over 20 items,
// and the contact every item repeats re-validated as a json.RawMessage each
// time. appendHistoryPage writes the same bytes as json.Marshal of the items
// (checked against it in historyjson_test.go) with the contact encoded once.

// appendHistoryPage appends the JSON array of entries, each showing contact
// (an encoded contactJSON).
func appendHistoryPage(dst []byte, entries []LedgerEntry, contact []byte) []byte {
	dst = append(dst, '[')
	for i := range entries {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendHistoryItem(dst, &entries[i], contact)
	}
	return append(dst, ']')
}

// appendHistoryItem is e as the seed's item (historyItem: keep its field
// order and omitempty), with contact as its contact.
func appendHistoryItem(dst []byte, e *LedgerEntry, contact []byte) []byte {
	dst = append(dst, `{"type":`...)
	dst = strconv.AppendInt(dst, int64(e.Type), 10)
	dst = append(dst, `,"score":`...)
	dst = strconv.AppendInt(dst, e.Score, 10)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(e.Status), 10)
	if e.Type == EntryAccumulate {
		dst = append(dst, `,"product":{"code":`...)
		dst = appendJSONString(dst, e.ItemCode)
		dst = append(dst, `,"name":`...)
		dst = appendJSONString(dst, e.ItemName)
		dst = append(dst, `,"id":`...)
		dst = appendJSONString(dst, e.ItemID)
		dst = append(dst, '}')
	} else {
		dst = append(dst, `,"gift":{"code":`...)
		dst = appendJSONString(dst, e.ItemCode)
		dst = append(dst, `,"name":`...)
		dst = appendJSONString(dst, e.ItemName)
		dst = append(dst, `,"score":`...)
		dst = strconv.AppendInt(dst, e.ItemScore, 10)
		dst = append(dst, `,"id":`...)
		dst = appendJSONString(dst, e.ItemID)
		dst = append(dst, '}')
	}
	dst = append(dst, `,"contact":`...)
	dst = append(dst, contact...)
	dst = append(dst, `,"org":`...)
	dst = appendJSONString(dst, e.Org)
	if e.Type == EntryAccumulate {
		if e.Code != "" {
			dst = append(dst, `,"code":`...)
			dst = appendJSONString(dst, e.Code)
		}
		if e.Serial != "" {
			dst = append(dst, `,"serialNumber":`...)
			dst = appendJSONString(dst, e.Serial)
		}
	}
	dst = append(dst, `,"createdAt":`...)
	dst = strconv.AppendInt(dst, e.CreatedAt.UnixMilli(), 10)
	dst = append(dst, `,"id":`...)
	dst = appendJSONString(dst, e.ID)
	return append(dst, '}')
}
