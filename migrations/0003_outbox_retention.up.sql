-- crmedge schema, version 3: delivered outbox events by delivery time.
--
-- A delivered event is kept for `serve --outbox-keep` (30 days by default)
-- for `crmedge outbox list --state delivered`, then deleted oldest first, so
-- the file of a shop that has been forwarding for years does not grow with
-- every write it ever made. The same index answers "when did the central
-- last accept a write" (GET /admin/v1/sync last_success_at) after a restart.
-- Pending and dead events are never deleted.
CREATE INDEX outbox_delivered ON outbox (done_at) WHERE state = 1;
