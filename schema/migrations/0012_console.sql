-- The operator console's needs of the schema.
--
-- 1. The live event feed (GET /v1/events) reads the history in commit-safe order. An id alone is
--    not a cursor: ids are taken when a row is inserted, and a transaction that took id 10 can
--    commit after one that took id 11; a reader past 11 would never see 10. Each row therefore
--    records its transaction id, and the feed reads only rows of transactions older than every
--    transaction still running (pg_snapshot_xmin), in (tx, id) order: no row can later appear
--    behind the cursor.
ALTER TABLE transitions ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX transitions_tx_idx ON transitions (tx, id);

-- 2. An operator's takeover: while paused_until is in the future, the automation neither answers
--    nor acts on the thread; the customer's texts are stored and shown. Its start and end are
--    transitions in the history (taken_over, handed_back, takeover_expired).
ALTER TABLE threads ADD COLUMN paused_until timestamptz;
ALTER TABLE threads ADD COLUMN paused_by text;

-- 3. The feed's wake-up: one NOTIFY per transaction that wrote history, whoever wrote it (the flow,
--    a migration, a person at psql). Postgres delivers identical notifications of a transaction
--    once, so a statement-level trigger costs one per commit, not one per row. The console's
--    controls (emergency stops and toggles, audited in control_events) wake it with 'controls'.
--    Every stored text is a transition too (message_received), so messages need no trigger.
CREATE FUNCTION clubos_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('clubos_events', TG_ARGV[0]);
  RETURN NULL;
END $$;
CREATE TRIGGER transitions_notify AFTER INSERT ON transitions
  FOR EACH STATEMENT EXECUTE FUNCTION clubos_notify_events('history');
CREATE TRIGGER control_events_notify AFTER INSERT ON control_events
  FOR EACH STATEMENT EXECUTE FUNCTION clubos_notify_events('controls');

-- 4. The console's facility status reads the last hour's and today's history by time. The history
--    and the messages are append-only and written in time order, so a BRIN index per table (a few
--    pages, nearly free to keep) narrows those reads to the recent blocks without a B-tree on the
--    intake path; threads are inserted in time order too, and created_at never changes.
CREATE INDEX transitions_at_brin ON transitions USING brin (at);
CREATE INDEX messages_received_brin ON messages USING brin (received_at);
CREATE INDEX threads_created_brin ON threads USING brin (created_at);

-- 5. The inbox's order (priority, then the longest waiting) read from an index: when a thread last
--    entered `escalated` is kept on the thread, not found again by a look into its history for
--    every open escalation on every page.
ALTER TABLE threads ADD COLUMN escalated_at timestamptz;
UPDATE threads t SET escalated_at = e.at
FROM (SELECT entity_id, max(at) AS at FROM transitions
      WHERE entity = 'thread' AND to_state = 'escalated' AND from_state IS DISTINCT FROM 'escalated'
      GROUP BY entity_id) e
WHERE t.id = e.entity_id;
UPDATE threads SET escalated_at = updated_at WHERE state = 'escalated' AND escalated_at IS NULL;
DROP INDEX threads_escalated_idx;
CREATE INDEX threads_escalated_idx ON threads (priority, escalated_at, id) WHERE state = 'escalated';
