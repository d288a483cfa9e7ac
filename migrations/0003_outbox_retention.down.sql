DROP TRIGGER outbox_heads_delete;
DROP TRIGGER outbox_heads_update;
DROP TRIGGER outbox_heads_insert;
DROP TABLE outbox_heads;
DROP INDEX outbox_delivered;
