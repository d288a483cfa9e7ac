-- crmedge schema, version 2: fewer index pages written per ledger entry, and
-- member reads served from covering indexes.

-- A history page of both types merges the two per-type walks of
-- ledger_history_type (sqlstore historyQuery), so ledger_history, a third
-- random page written by every entry, is no longer needed.
DROP INDEX ledger_history;

-- "Has this customer entries at this location?" was answered by ledger_pos,
-- an index entry per ledger row. ledger_locations keeps one row per customer
-- and location instead, written only the first time a customer earns or
-- spends there: a returning customer's entry writes nothing to it.
CREATE TABLE ledger_locations (
    customer_id TEXT NOT NULL,
    pos_id      TEXT NOT NULL,
    PRIMARY KEY (customer_id, pos_id)
) STRICT, WITHOUT ROWID;
INSERT INTO ledger_locations (customer_id, pos_id) SELECT DISTINCT customer_id, pos_id FROM ledger;
DROP INDEX ledger_pos;
-- Ledger rows are never deleted and their customer and location never
-- change (only status and confirmed do), so an insert trigger keeps it whole.
CREATE TRIGGER ledger_location_insert AFTER INSERT ON ledger BEGIN
    INSERT OR IGNORE INTO ledger_locations (customer_id, pos_id) VALUES (NEW.customer_id, NEW.pos_id);
END;

-- A customer's phones and emails in position order, with every column the
-- customer view shows: one index walk, no lookup of each row by its key.
DROP INDEX customer_phones_customer;
CREATE INDEX customer_phones_customer ON customer_phones (customer_id, position, id, type);
DROP INDEX customer_emails_customer;
CREATE INDEX customer_emails_customer ON customer_emails (customer_id, position, id, type, address);
