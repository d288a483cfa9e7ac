-- crmedge schema, version 1. One customer record for all four dialects.
-- Times are epoch milliseconds (INTEGER). Ids are 24-hex text.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE customers (
    id            TEXT PRIMARY KEY,
    customer_no   INTEGER NOT NULL UNIQUE,      -- `customerId`
    name          TEXT NOT NULL DEFAULT '',
    gender        TEXT NOT NULL DEFAULT '' CHECK (gender IN ('', 'male', 'female')),
    birth_year    INTEGER NOT NULL DEFAULT 0,
    birth_month   INTEGER NOT NULL DEFAULT 0,
    birth_day     INTEGER NOT NULL DEFAULT 0,
    attrs         TEXT NOT NULL DEFAULT '{}',   -- free-text profile fields, JSON object
    tags          TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings
    custom_fields TEXT NOT NULL DEFAULT '[]',   -- JSON array of {name, value}
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

-- A phone belongs to at most one customer: the E.164 number is the key.
CREATE TABLE customer_phones (
    e164        TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    id          TEXT NOT NULL,
    type        TEXT NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;
CREATE INDEX customer_phones_customer ON customer_phones (customer_id, position);

-- Emails match case-insensitively: `email` is the lower-cased key, `address`
-- the form the customer gave.
CREATE TABLE customer_emails (
    email       TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    id          TEXT NOT NULL,
    type        TEXT NOT NULL DEFAULT '',
    address     TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX customer_emails_customer ON customer_emails (customer_id, position);

-- A customer is a member of each location (pos_id) that created or updated it.
CREATE TABLE memberships (
    pos_id      TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (pos_id, customer_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX memberships_customer ON memberships (customer_id);

CREATE TABLE customer_types (
    id           TEXT PRIMARY KEY,
    vbot_id      TEXT NOT NULL,
    project_code TEXT NOT NULL,
    type_no      TEXT NOT NULL,
    type_name    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (vbot_id, project_code, type_no)
) STRICT;
CREATE INDEX customer_types_no ON customer_types (type_no);

-- One type per customer per scope. RESTRICT backs the domain's "a type still
-- held cannot be deleted".
CREATE TABLE customer_type_links (
    customer_id  TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    vbot_id      TEXT NOT NULL,
    project_code TEXT NOT NULL,
    type_id      TEXT NOT NULL REFERENCES customer_types (id) ON DELETE RESTRICT,
    PRIMARY KEY (customer_id, vbot_id, project_code)
) STRICT, WITHOUT ROWID;
CREATE INDEX customer_type_links_type ON customer_type_links (type_id);

CREATE TABLE products (
    code       TEXT PRIMARY KEY,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    score      INTEGER NOT NULL CHECK (score >= 0)
) STRICT;

CREATE TABLE gifts (
    code       TEXT PRIMARY KEY,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    score      INTEGER NOT NULL CHECK (score >= 0)
) STRICT;

-- Accumulation codes: millions of rows, looked up by code only.
CREATE TABLE codes (
    code         TEXT PRIMARY KEY,
    product_code TEXT NOT NULL,
    serial       TEXT NOT NULL DEFAULT '',
    used_by      TEXT                     -- ledger entry id; NULL while unused
) STRICT, WITHOUT ROWID;

-- The ledger is the source of truth for points. seq (the rowid) orders
-- entries written in the same millisecond.
CREATE TABLE ledger (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    type        INTEGER NOT NULL CHECK (type IN (1, 2)),
    score       INTEGER NOT NULL,
    status      INTEGER NOT NULL CHECK (status IN (0, 1)),
    confirmed   INTEGER NOT NULL DEFAULT 0,
    item_code   TEXT NOT NULL,
    item_name   TEXT NOT NULL DEFAULT '',
    item_id     TEXT NOT NULL DEFAULT '',
    item_score  INTEGER NOT NULL DEFAULT 0,
    code        TEXT NOT NULL DEFAULT '',
    serial      TEXT NOT NULL DEFAULT '',
    org         TEXT NOT NULL DEFAULT '',
    pos_id      TEXT NOT NULL DEFAULT '',
    token_name  TEXT NOT NULL DEFAULT '',
    origin      TEXT NOT NULL DEFAULT 'local',
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX ledger_history ON ledger (customer_id, created_at DESC, seq DESC);
CREATE INDEX ledger_history_type ON ledger (customer_id, type, created_at DESC, seq DESC);
CREATE INDEX ledger_pos ON ledger (customer_id, pos_id);

-- balances caches the ledger sums so a redeem need not scan a customer's
-- history. Only the triggers below write it, on every ledger change, in the
-- same transaction; a test checks it against the ledger after each operation.
CREATE TABLE balances (
    customer_id TEXT PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    points      INTEGER NOT NULL DEFAULT 0,
    pending     INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE TRIGGER ledger_balance_insert AFTER INSERT ON ledger BEGIN
    INSERT INTO balances (customer_id, points, pending)
    VALUES (NEW.customer_id,
            CASE WHEN NEW.status = 1 THEN (CASE NEW.type WHEN 1 THEN NEW.score ELSE -NEW.score END) ELSE 0 END,
            CASE WHEN NEW.status = 1 AND NEW.type = 1 AND NEW.confirmed = 0 THEN NEW.score ELSE 0 END)
    ON CONFLICT (customer_id) DO UPDATE SET
        points  = points  + excluded.points,
        pending = pending + excluded.pending;
END;

CREATE TRIGGER ledger_balance_update AFTER UPDATE OF status, confirmed, score, type ON ledger BEGIN
    UPDATE balances SET
        points = points
            - CASE WHEN OLD.status = 1 THEN (CASE OLD.type WHEN 1 THEN OLD.score ELSE -OLD.score END) ELSE 0 END
            + CASE WHEN NEW.status = 1 THEN (CASE NEW.type WHEN 1 THEN NEW.score ELSE -NEW.score END) ELSE 0 END,
        pending = pending
            - CASE WHEN OLD.status = 1 AND OLD.type = 1 AND OLD.confirmed = 0 THEN OLD.score ELSE 0 END
            + CASE WHEN NEW.status = 1 AND NEW.type = 1 AND NEW.confirmed = 0 THEN NEW.score ELSE 0 END
    WHERE customer_id = NEW.customer_id;
END;

-- Customers whose central history was imported by read-through.
CREATE TABLE history_imports (
    customer_id TEXT PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    imported_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- The outbox: every accepted write, as the dialect call to replay upstream.
-- state 0 pending, 1 delivered, 2 dead.
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    stream      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    query       TEXT NOT NULL DEFAULT '',
    body        BLOB NOT NULL,
    ledger_id   TEXT NOT NULL DEFAULT '',
    state       INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_try    INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    last_body   TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    done_at     INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX outbox_pending ON outbox (stream, seq) WHERE state = 0;
CREATE INDEX outbox_state ON outbox (state, seq);

-- Idempotency keys of writes applied on behalf of downstream edges.
-- status 0: applied, answer not stored yet.
CREATE TABLE idempotency_keys (
    key        TEXT PRIMARY KEY,
    status     INTEGER NOT NULL DEFAULT 0,
    body       BLOB,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,   -- SHA-256 of the secret; the secret is never stored
    admin      INTEGER NOT NULL DEFAULT 0,
    pos_ids    TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX tokens_name ON tokens (name);
