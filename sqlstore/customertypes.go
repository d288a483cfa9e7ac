package sqlstore

import (
	"fmt"

	"crmedge/edge"
)

const typeColumns = `id, vbot_id, project_code, type_no, type_name, created_at, updated_at`

func (t *txn) scanTypes(q string, args ...any) ([]edge.CustomerType, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	var out []edge.CustomerType
	for rows.Next() {
		var ct edge.CustomerType
		var created, updated int64
		if err := rows.Scan(&ct.ID, &ct.VbotID, &ct.ProjectCode, &ct.TypeNo, &ct.TypeName, &created, &updated); err != nil {
			rows.Close()
			return nil, err
		}
		ct.CreatedAt, ct.UpdatedAt = fromMs(created), fromMs(updated)
		out = append(out, ct)
	}
	return out, closeRows(rows)
}

func (t *txn) CustomerType(scope edge.TypeScope, typeNo string) (*edge.CustomerType, error) {
	ts, err := t.scanTypes(`SELECT `+typeColumns+` FROM customer_types WHERE vbot_id = ? AND project_code = ? AND type_no = ?`,
		scope.VbotID, scope.ProjectCode, typeNo)
	if err != nil || len(ts) == 0 {
		if err != nil {
			err = fmt.Errorf("customer type: %w", err)
		}
		return nil, err
	}
	return &ts[0], nil
}

func (t *txn) CustomerTypesByNo(typeNo string) ([]edge.CustomerType, error) {
	ts, err := t.scanTypes(`SELECT `+typeColumns+` FROM customer_types WHERE type_no = ? ORDER BY vbot_id, project_code`, typeNo)
	if err != nil {
		return nil, fmt.Errorf("customer types by no: %w", err)
	}
	return ts, nil
}

func (t *txn) CustomerTypes(scope edge.TypeScope) ([]edge.CustomerType, error) {
	ts, err := t.scanTypes(`SELECT `+typeColumns+` FROM customer_types WHERE vbot_id = ? AND project_code = ? ORDER BY type_no`,
		scope.VbotID, scope.ProjectCode)
	if err != nil {
		return nil, fmt.Errorf("customer types: %w", err)
	}
	return ts, nil
}

func (t *txn) InsertCustomerType(ct *edge.CustomerType) error {
	_, err := t.exec(`INSERT INTO customer_types (`+typeColumns+`) VALUES (?,?,?,?,?,?,?)`,
		ct.ID, ct.VbotID, ct.ProjectCode, ct.TypeNo, ct.TypeName, ms(ct.CreatedAt), ms(ct.UpdatedAt))
	if err != nil {
		return fmt.Errorf("insert customer type: %w", err)
	}
	return nil
}

func (t *txn) UpdateCustomerType(ct *edge.CustomerType) error {
	_, err := t.exec(`UPDATE customer_types SET type_no = ?, type_name = ?, updated_at = ? WHERE id = ?`,
		ct.TypeNo, ct.TypeName, ms(ct.UpdatedAt), ct.ID)
	if err != nil {
		return fmt.Errorf("update customer type: %w", err)
	}
	return nil
}

func (t *txn) DeleteCustomerType(id string) error {
	if _, err := t.exec(`DELETE FROM customer_types WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete customer type: %w", err)
	}
	return nil
}

func (t *txn) CustomerTypeHolders(id string) (int64, error) {
	var n int64
	if _, err := t.row(`SELECT COUNT(*) FROM customer_type_links WHERE type_id = ?`, []any{id}, &n); err != nil {
		return 0, fmt.Errorf("customer type holders: %w", err)
	}
	return n, nil
}
