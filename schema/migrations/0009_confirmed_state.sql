-- "Confirmed but not started" becomes a state of the action machine (statemachines/
-- action_machine.h) instead of `awaiting_confirmation AND confirmed_by IS NOT NULL`, a sub-state
-- that five places of the flow derived again and no diagram could show. `confirmed_by` stays: it
-- says who confirmed.
ALTER TABLE actions DROP CONSTRAINT actions_state_check;
ALTER TABLE actions ADD CONSTRAINT actions_state_check
  CHECK (state IN ('received', 'routed', 'awaiting_confirmation', 'confirmed', 'executing',
                   'executed', 'verified', 'escalated', 'rejected', 'cancelled'));

-- Actions confirmed and waiting for a worker move to the new state, with the history row that
-- says so (the history is append-only; older walks show awaiting_confirmation -> executing).
WITH moved AS (
  UPDATE actions SET state = 'confirmed', version = version + 1
  WHERE state = 'awaiting_confirmation' AND confirmed_by IS NOT NULL
  RETURNING id, confirmed_by)
INSERT INTO transitions (entity, entity_id, from_state, event, to_state, actor, reason, data)
SELECT 'action', id, 'awaiting_confirmation', 'confirmed', 'confirmed', confirmed_by,
       'migration 0009: the confirmed state', '{}'::jsonb
FROM moved;
