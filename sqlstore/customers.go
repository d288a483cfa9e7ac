package sqlstore

import (
	"cmp"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"crmedge/edge"
)

// The hot-path queries, named for TestHotPathQueryPlans.
const (
	phoneOwnerQuery = `SELECT customer_id FROM customer_phones WHERE e164 = ?`
	emailOwnerQuery = `SELECT customer_id FROM customer_emails WHERE email = ?`
	memberQuery     = `SELECT 1 FROM memberships WHERE pos_id = ? AND customer_id = ?`
	seenAtQuery     = `SELECT 1 WHERE EXISTS (SELECT 1 FROM memberships WHERE pos_id = ?1 AND customer_id = ?2)
		OR EXISTS (SELECT 1 FROM ledger_locations WHERE customer_id = ?2 AND pos_id = ?1)`
	customerNameQuery   = `SELECT name FROM customers WHERE id = ?`
	nextCustomerNoQuery = `SELECT COALESCE(MAX(customer_no), 0) + 1 FROM customers`
)

func (t *txn) CustomerIDByPhone(e164 string) (string, error) {
	id, err := t.owner("p", e164, phoneOwnerQuery)
	if err != nil {
		return "", fmt.Errorf("customer by phone: %w", err)
	}
	return id, nil
}

func (t *txn) CustomerIDByEmail(email string) (string, error) {
	id, err := t.owner("e", edge.NormalizeEmail(email), emailOwnerQuery)
	if err != nil {
		return "", fmt.Errorf("customer by email: %w", err)
	}
	return id, nil
}

// owner looks a contact's customer up, through the transaction's memo.
func (t *txn) owner(kind, key, q string) (string, error) {
	if id, ok := t.owners[kind+key]; ok {
		return id, nil
	}
	var id string
	if _, err := t.row(q, []any{key}, &id); err != nil {
		return "", err
	}
	if t.owners == nil {
		t.owners = make(map[string]string, 4)
	}
	t.owners[kind+key] = id
	return id, nil
}

// customerColumns read a customer c with its phones, emails and types in one
// statement: the lists come back as JSON arrays of string arrays. Phones and
// emails come in position order straight from their (customer_id, position)
// indexes (a co-routine, no sort); types are sorted in Go.
const customerColumns = `c.customer_no, c.name, c.gender, c.birth_year, c.birth_month, c.birth_day,
	c.attrs, c.tags, c.custom_fields, c.created_at, c.updated_at,
	(SELECT '[' || group_concat(j) || ']' FROM (SELECT json_array(p.e164, p.id, p.type) AS j
		FROM customer_phones p WHERE p.customer_id = c.id ORDER BY p.position)),
	(SELECT '[' || group_concat(j) || ']' FROM (SELECT json_array(e.address, e.id, e.type) AS j
		FROM customer_emails e WHERE e.customer_id = c.id ORDER BY e.position)),
	(SELECT '[' || group_concat(json_array(ct.id, ct.vbot_id, ct.project_code, ct.type_no, ct.type_name)) || ']'
		FROM customer_type_links l JOIN customer_types ct ON ct.id = l.type_id WHERE l.customer_id = c.id)`

const customerQuery = `SELECT c.id, ` + customerColumns + ` FROM customers c WHERE c.id = ?`

// memberByPhoneQuery is phoneOwnerQuery, memberQuery and customerQuery in
// one statement: the member GET's lookup.
const memberByPhoneQuery = `SELECT c.id, ` + customerColumns + ` FROM customer_phones p
	JOIN memberships m ON m.pos_id = ?2 AND m.customer_id = p.customer_id
	JOIN customers c ON c.id = p.customer_id
	WHERE p.e164 = ?1`

func (t *txn) Customer(id string) (*edge.Customer, error) {
	c, err := t.scanCustomer(customerQuery, id)
	if err != nil {
		return nil, fmt.Errorf("customer %s: %w", id, err)
	}
	return c, nil
}

// MemberByPhone is the customer owning the phone e164 when it is a member
// at posID, else nil.
func (t *txn) MemberByPhone(e164, posID string) (*edge.Customer, error) {
	c, err := t.scanCustomer(memberByPhoneQuery, e164, posID)
	if err != nil {
		return nil, fmt.Errorf("member by phone: %w", err)
	}
	return c, nil
}

// scanCustomer runs a query selecting c.id and customerColumns; nil when it
// finds no row.
func (t *txn) scanCustomer(q string, args ...any) (*edge.Customer, error) {
	c := &edge.Customer{}
	var attrs, tags, fields string
	var phones, emails, types sql.NullString // NULL: none
	var created, updated int64
	found, err := t.row(q, args,
		&c.ID, &c.No, &c.Name, &c.Gender, &c.Birth.Year, &c.Birth.Month, &c.Birth.Day,
		&attrs, &tags, &fields, &created, &updated, &phones, &emails, &types)
	if err != nil || !found {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromMs(created), fromMs(updated)
	if err := unmarshalColumns(c, attrs, tags, fields); err != nil {
		return nil, fmt.Errorf("customer %s: %w", c.ID, err)
	}
	if err := unmarshalChildren(c, phones.String, emails.String, types.String); err != nil {
		return nil, fmt.Errorf("customer %s: %w", c.ID, err)
	}
	return c, nil
}

// unmarshalChildren reads customerQuery's lists.
func unmarshalChildren(c *edge.Customer, phones, emails, types string) error {
	if phones != "" {
		rows, err := stringRows(phones, 3)
		if err != nil {
			return fmt.Errorf("phones: %w", err)
		}
		c.Phones = make([]edge.Phone, len(rows))
		for i, r := range rows {
			c.Phones[i] = edge.Phone{Number: r[0], ID: r[1], Type: r[2]}
		}
	}
	if emails != "" {
		rows, err := stringRows(emails, 3)
		if err != nil {
			return fmt.Errorf("emails: %w", err)
		}
		c.Emails = make([]edge.Email, len(rows))
		for i, r := range rows {
			c.Emails[i] = edge.Email{Address: r[0], ID: r[1], Type: r[2]}
		}
	}
	if types != "" {
		rows, err := stringRows(types, 5)
		if err != nil {
			return fmt.Errorf("types: %w", err)
		}
		c.Types = make([]edge.TypeRef, len(rows))
		for i, r := range rows {
			c.Types[i] = edge.TypeRef{TypeID: r[0], VbotID: r[1], ProjectCode: r[2], TypeNo: r[3], TypeName: r[4]}
		}
		slices.SortFunc(c.Types, func(a, b edge.TypeRef) int {
			return cmp.Or(strings.Compare(a.VbotID, b.VbotID), strings.Compare(a.ProjectCode, b.ProjectCode))
		})
	}
	return nil
}

func unmarshalColumns(c *edge.Customer, attrs, tags, fields string) error {
	if attrs != "{}" {
		var err error
		if c.Attrs, err = stringMap(attrs); err != nil {
			return fmt.Errorf("attrs: %w", err)
		}
	}
	if tags != "[]" {
		if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
			return fmt.Errorf("tags: %w", err)
		}
	}
	if fields != "[]" {
		if err := json.Unmarshal([]byte(fields), &c.CustomFields); err != nil {
			return fmt.Errorf("custom fields: %w", err)
		}
	}
	return nil
}

func closeRows(rows interface {
	Err() error
	Close() error
}) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

func marshalColumns(c *edge.Customer) (attrs, tags, fields string, err error) {
	attrs, tags, fields = "{}", "[]", "[]"
	if len(c.Attrs) > 0 {
		b, err := json.Marshal(c.Attrs)
		if err != nil {
			return "", "", "", err
		}
		attrs = string(b)
	}
	if len(c.Tags) > 0 {
		b, err := json.Marshal(c.Tags)
		if err != nil {
			return "", "", "", err
		}
		tags = string(b)
	}
	if len(c.CustomFields) > 0 {
		b, err := json.Marshal(c.CustomFields)
		if err != nil {
			return "", "", "", err
		}
		fields = string(b)
	}
	return attrs, tags, fields, nil
}

func (t *txn) InsertCustomer(c *edge.Customer) error {
	if c.No == 0 {
		if _, err := t.row(nextCustomerNoQuery, nil, &c.No); err != nil {
			return fmt.Errorf("next customer number: %w", err)
		}
	}
	attrs, tags, fields, err := marshalColumns(c)
	if err != nil {
		return fmt.Errorf("insert customer: %w", err)
	}
	_, err = t.exec(`INSERT INTO customers (id, customer_no, name, gender, birth_year, birth_month, birth_day,
		attrs, tags, custom_fields, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		c.ID, c.No, c.Name, c.Gender, c.Birth.Year, c.Birth.Month, c.Birth.Day,
		attrs, tags, fields, ms(c.CreatedAt), ms(c.UpdatedAt))
	if err != nil {
		return fmt.Errorf("insert customer: %w", err)
	}
	return t.writeChildren(c)
}

func (t *txn) UpdateCustomer(c *edge.Customer) error {
	attrs, tags, fields, err := marshalColumns(c)
	if err != nil {
		return fmt.Errorf("update customer: %w", err)
	}
	_, err = t.exec(`UPDATE customers SET name = ?, gender = ?, birth_year = ?, birth_month = ?, birth_day = ?,
		attrs = ?, tags = ?, custom_fields = ?, updated_at = ? WHERE id = ?`,
		c.Name, c.Gender, c.Birth.Year, c.Birth.Month, c.Birth.Day, attrs, tags, fields, ms(c.UpdatedAt), c.ID)
	if err != nil {
		return fmt.Errorf("update customer: %w", err)
	}
	for _, q := range []string{
		`DELETE FROM customer_phones WHERE customer_id = ?`,
		`DELETE FROM customer_emails WHERE customer_id = ?`,
		`DELETE FROM customer_type_links WHERE customer_id = ?`,
	} {
		if _, err := t.exec(q, c.ID); err != nil {
			return fmt.Errorf("update customer: %w", err)
		}
	}
	return t.writeChildren(c)
}

// writeChildren inserts a customer's phones, emails and type links.
func (t *txn) writeChildren(c *edge.Customer) error {
	for i, p := range c.Phones {
		if _, err := t.exec(`INSERT INTO customer_phones (e164, customer_id, position, id, type) VALUES (?,?,?,?,?)`,
			p.Number, c.ID, i, p.ID, p.Type); err != nil {
			return fmt.Errorf("customer phone: %w", err)
		}
	}
	for i, e := range c.Emails {
		if _, err := t.exec(`INSERT INTO customer_emails (email, customer_id, position, id, type, address) VALUES (?,?,?,?,?,?)`,
			edge.NormalizeEmail(e.Address), c.ID, i, e.ID, e.Type, e.Address); err != nil {
			return fmt.Errorf("customer email: %w", err)
		}
	}
	for _, r := range c.Types {
		if _, err := t.exec(`INSERT INTO customer_type_links (customer_id, vbot_id, project_code, type_id) VALUES (?,?,?,?)`,
			c.ID, r.VbotID, r.ProjectCode, r.TypeID); err != nil {
			return fmt.Errorf("customer type: %w", err)
		}
	}
	return nil
}

// CustomerName is the customer's name alone: a write that needs no more of a
// returning customer reads no more.
func (t *txn) CustomerName(id string) (string, bool, error) {
	var name string
	found, err := t.row(customerNameQuery, []any{id}, &name)
	if err != nil {
		return "", false, fmt.Errorf("customer %s name: %w", id, err)
	}
	return name, found, nil
}

func (t *txn) IsMember(posID, customerID string) (bool, error) {
	var one int
	found, err := t.row(memberQuery, []any{posID, customerID}, &one)
	if err != nil {
		return false, fmt.Errorf("membership: %w", err)
	}
	return found, nil
}

func (t *txn) AddMembership(posID, customerID string, at time.Time) error {
	_, err := t.exec(`INSERT INTO memberships (pos_id, customer_id, created_at, updated_at) VALUES (?,?,?,?)
		ON CONFLICT (pos_id, customer_id) DO UPDATE SET updated_at = excluded.updated_at`,
		posID, customerID, ms(at), ms(at))
	if err != nil {
		return fmt.Errorf("add membership: %w", err)
	}
	return nil
}

func (t *txn) CustomerSeenAt(customerID string, posIDs []string) (bool, error) {
	for _, p := range posIDs {
		var one int
		found, err := t.row(seenAtQuery, []any{p, customerID}, &one)
		if err != nil {
			return false, fmt.Errorf("customer seen at: %w", err)
		}
		if found {
			return true, nil
		}
	}
	return false, nil
}
