-- What the hostile probe of 850d4a5 found in the data model (shared/reference/defects-850d4a5.md).

-- D5: a provider's message id is unique per source and sender, not across the whole system. A
-- message posted through the generic API with some id must never swallow a real customer's later
-- OpenPhone text that happens to carry the same id. Rows from before this migration keep the
-- source 'legacy', so nothing new can ever be taken for one of their duplicates.
ALTER TABLE messages ADD COLUMN source text NOT NULL DEFAULT 'legacy'
  CHECK (source IN ('legacy', 'openphone', 'api'));
DROP INDEX messages_external_id_idx;
CREATE UNIQUE INDEX messages_external_id_idx ON messages (source, from_phone, external_id)
  WHERE external_id IS NOT NULL;

-- The cooldown is measured between executions, not decisions: when an action first started
-- executing (the attempt that committed `executing` first), whatever happened afterwards.
ALTER TABLE actions ADD COLUMN started_at timestamptz;
UPDATE actions a SET started_at = (
  SELECT min(t.at) FROM transitions t
  WHERE t.entity = 'action' AND t.entity_id = a.id AND t.to_state = 'executing');
CREATE INDEX actions_asset_started_idx ON actions ((target ->> 'device_id'), started_at)
  WHERE started_at IS NOT NULL;

-- D1: a suggestion is what ClubOS would have done at one moment; after a while it is stale and
-- can no longer be approved (the booking, the bay, the customer's need have moved on).
ALTER TABLE suggestions ADD COLUMN expires_at timestamptz;
UPDATE suggestions SET expires_at = created_at + interval '15 minutes';
ALTER TABLE suggestions ALTER COLUMN expires_at SET NOT NULL;
