-- crmedge schema, version 3: delivered outbox events by delivery time, and
-- each stream's next event to send by the time it is due.
--
-- A delivered event is kept for `serve --outbox-keep` (30 days by default)
-- for `crmedge outbox list --state delivered`, then deleted oldest first, so
-- the file of a shop that has been forwarding for years does not grow with
-- every write it ever made. The same index answers "when did the central
-- last accept a write" (GET /admin/v1/sync last_success_at) after a restart.
-- Pending and dead events are never deleted.
CREATE INDEX outbox_delivered ON outbox (done_at) WHERE state = 1;

-- The head of each stream (its oldest pending event: the only one the
-- forwarder may send) with the time it is due. DueEvents finds the due heads
-- among the oldest heads (outbox_heads_order) or else by due time
-- (outbox_heads_due), so a wake of the forwarder never reads the whole
-- pending backlog: while the central is offline every head waits out a
-- backoff, and the forwarder wakes after every write.
CREATE TABLE outbox_heads (
    stream   TEXT PRIMARY KEY,
    seq      INTEGER NOT NULL,   -- outbox.seq of the head
    next_try INTEGER NOT NULL    -- its outbox.next_try
) STRICT, WITHOUT ROWID;
CREATE INDEX outbox_heads_due ON outbox_heads (next_try, seq);
CREATE INDEX outbox_heads_order ON outbox_heads (seq, next_try);
INSERT INTO outbox_heads (stream, seq, next_try)
SELECT o.stream, o.seq, o.next_try FROM outbox o
WHERE o.state = 0 AND o.seq = (SELECT MIN(seq) FROM outbox WHERE state = 0 AND stream = o.stream);

-- Triggers keep it exact whatever statement changes the outbox. A new
-- pending event heads its stream when the stream had none pending (or only
-- later ones).
CREATE TRIGGER outbox_heads_insert AFTER INSERT ON outbox WHEN NEW.state = 0 BEGIN
    INSERT INTO outbox_heads (stream, seq, next_try) VALUES (NEW.stream, NEW.seq, NEW.next_try)
    ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq, next_try = excluded.next_try
    WHERE excluded.seq < outbox_heads.seq;
END;
-- An event that stops or starts being pending, or is rescheduled: its
-- stream's head is looked up again (a search of outbox_pending). An event's
-- stream and seq never change.
CREATE TRIGGER outbox_heads_update AFTER UPDATE OF state, next_try ON outbox
WHEN OLD.state = 0 OR NEW.state = 0 BEGIN
    DELETE FROM outbox_heads WHERE stream = NEW.stream;
    INSERT INTO outbox_heads (stream, seq, next_try)
    SELECT stream, seq, next_try FROM outbox
    WHERE seq = (SELECT MIN(seq) FROM outbox WHERE state = 0 AND stream = NEW.stream);
END;
CREATE TRIGGER outbox_heads_delete AFTER DELETE ON outbox WHEN OLD.state = 0 BEGIN
    DELETE FROM outbox_heads WHERE stream = OLD.stream;
    INSERT INTO outbox_heads (stream, seq, next_try)
    SELECT stream, seq, next_try FROM outbox
    WHERE seq = (SELECT MIN(seq) FROM outbox WHERE state = 0 AND stream = OLD.stream);
END;
