DROP INDEX customer_emails_customer;
CREATE INDEX customer_emails_customer ON customer_emails (customer_id, position);
DROP INDEX customer_phones_customer;
CREATE INDEX customer_phones_customer ON customer_phones (customer_id, position);
DROP TRIGGER ledger_location_insert;
DROP TABLE ledger_locations;
CREATE INDEX ledger_pos ON ledger (customer_id, pos_id);
CREATE INDEX ledger_history ON ledger (customer_id, created_at DESC, seq DESC);
