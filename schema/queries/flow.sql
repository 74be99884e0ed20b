-- Named statements of the customer flow: threads, messages, actions, transitions.

-- name: message_by_external_id
-- A provider's id is unique per source and sender: $1 source, $2 from, $3 external id.
SELECT id, thread_id FROM messages WHERE source = $1 AND from_phone = $2 AND external_id = $3

-- name: thread_open_lock
-- $3 now (NULL: the database's): `paused` while an operator has the conversation (takeover).
SELECT id, state, paused_until IS NOT NULL AND paused_until > coalesce($3::timestamptz, now()) AS paused
FROM threads
WHERE customer_phone = $1 AND facility_line = $2 AND state <> 'closed'
FOR UPDATE

-- name: thread_insert
-- $1 location, $2 customer phone, $3 facility line, $4 its state at birth, $5 now (NULL: the
-- database's); NULL when another intake opened it first.
INSERT INTO threads (location, customer_phone, facility_line, state, created_at, updated_at)
VALUES ($1, $2, $3, $4, coalesce($5::timestamptz, now()), coalesce($5::timestamptz, now()))
ON CONFLICT (customer_phone, facility_line) WHERE state <> 'closed' DO NOTHING
RETURNING id

-- name: message_rewrite
-- Writes message $1 again, unchanged. A transaction that only read commits without waiting for a
-- synchronous standby (and one with only an id writes no WAL before its commit record, which
-- Postgres does not wait for either); with this row version its COMMIT waits until a standby has
-- the WAL up to it, the message's own commit included (workflows/flow_intake.cpp).
UPDATE messages SET id = id WHERE id = $1::bigint

-- name: message_insert
-- $1 thread, $2 direction, $3 external id, $4 from, $5 to, $6 body, $7 at, $8 source
INSERT INTO messages (thread_id, direction, external_id, from_phone, to_phone, body, received_at, source)
VALUES ($1, $2, $3, $4, $5, $6, coalesce($7::timestamptz, now()), $8)
ON CONFLICT (source, from_phone, external_id) WHERE external_id IS NOT NULL DO NOTHING
RETURNING id

-- name: thread_lock
SELECT id, state, version, location, customer_phone, facility_line, last_routed_message_id, priority,
       paused_until, paused_by, claimed_by
FROM threads WHERE id = $1 FOR UPDATE

-- name: thread_set_pause
-- The caller holds the row's lock. $2 until (NULL: ends the pause), $3 by whom, $4 now.
UPDATE threads SET paused_until = $2, paused_by = $3, updated_at = coalesce($4::timestamptz, now())
WHERE id = $1

-- name: thread_mark_all_read
-- Every text of the customer's so far counts as read (an operator took the conversation over).
UPDATE threads SET last_routed_message_id = coalesce(
  (SELECT max(id) FROM messages WHERE thread_id = $1 AND direction = 'in'), last_routed_message_id)
WHERE id = $1

-- name: thread_claim_lock
SELECT id, state, claimed_by FROM threads WHERE id = $1 FOR UPDATE

-- name: thread_set_claim
-- The caller holds the row's lock and compared claimed_by; the WHERE holds the rule anyway.
-- $1 id, $2 the new claimant, $3 the claimant it replaces (NULL: none)
UPDATE threads SET claimed_by = $2
WHERE id = $1 AND state = 'escalated' AND claimed_by IS NOT DISTINCT FROM $3
RETURNING id

-- name: messages_since
-- The customer's messages not yet routed, oldest first.
SELECT id, body FROM messages
WHERE thread_id = $1 AND direction = 'in' AND id > coalesce($2::bigint, 0)
ORDER BY id

-- name: messages_recent_count
-- $1 thread, $2 window ms, $3 now
SELECT count(*) AS n FROM messages
WHERE thread_id = $1 AND direction = 'in'
  AND received_at > coalesce($3::timestamptz, now()) - $2::bigint * interval '1 millisecond'

-- name: action_create
-- An action is born decided: one statement inserts it in `routed` and records both steps of its
-- history, (none) -requested-> received -policy_decided-> routed, in that order.
-- $1 thread, $2 kind, $3 target, $4 params, $5 triggered_by (the actor), $6 reason (the SOP),
-- $7 idempotency key, $8 decision, $9 confirm expires at, $10 birth data, $11 decision outcome,
-- $12 booking id, $13 human override, $14 the state its birth enters and $15 the state its
-- decision enters (both from the action table), $16 now (NULL: the database's)
WITH a AS (
  INSERT INTO actions (thread_id, kind, target, params, triggered_by, reason, state, version,
                       idempotency_key, decision, confirm_expires_at, booking_id, human_override,
                       created_at, updated_at)
  VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6, $15, 2, $7, $8::jsonb, $9::timestamptz, $12,
          $13, coalesce($16::timestamptz, now()), coalesce($16::timestamptz, now()))
  RETURNING id),
history AS (
  INSERT INTO transitions (entity, entity_id, from_state, event, to_state, actor, reason, data, at)
  SELECT 'action', id, NULL, 'requested', $14, $5, NULL, $10::jsonb,
         coalesce($16::timestamptz, now()) FROM a
  UNION ALL
  SELECT 'action', id, $14, 'policy_decided', $15, $5, $11, '{}'::jsonb,
         coalesce($16::timestamptz, now()) FROM a)
SELECT id FROM a

-- name: action_lock
SELECT id, thread_id, kind, target::text AS target, params::text AS params, state, attempt,
       idempotency_key, baseline::text AS baseline, confirmed_by, confirm_expires_at, verify_deadline,
       triggered_by, external_ref::text AS external_ref, reason, booking_id, updated_at
FROM actions WHERE id = $1 FOR UPDATE

-- name: action_get
SELECT id, thread_id, kind, target::text AS target, params::text AS params, state, attempt,
       idempotency_key, baseline::text AS baseline, confirmed_by, confirm_expires_at, verify_deadline,
       triggered_by, external_ref::text AS external_ref, reason, booking_id, updated_at
FROM actions WHERE id = $1

-- name: action_confirm
UPDATE actions SET confirmed_by = $2 WHERE id = $1

-- name: action_primary_open
-- The thread's primary action that has not finished executing: awaiting the customer, confirmed
-- and waiting for a worker, or running.
SELECT id, state FROM actions
WHERE thread_id = $1 AND params ->> 'role' = 'primary'
  AND state IN ('routed', 'awaiting_confirmation', 'confirmed', 'executing')
ORDER BY id DESC
LIMIT 1
FOR UPDATE

-- name: thread_mark_read
-- A message that needs no routing (a YES/NO, a text while an action runs) is not routed later.
UPDATE threads SET last_routed_message_id = greatest(coalesce(last_routed_message_id, 0), $2) WHERE id = $1

-- name: transition_insert
-- $1 entity, $2 id, $3 from, $4 event, $5 to, $6 actor, $7 reason, $8 data, $9 now (NULL: the
-- database's)
INSERT INTO transitions (entity, entity_id, from_state, event, to_state, actor, reason, data, at)
VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8::jsonb, '{}'::jsonb), coalesce($9::timestamptz, now()))

-- name: thread_transition
-- One statement per transition: compare-and-set the state, bump the version, append the history.
-- $1 id, $2 from, $3 to, $4 event, $5 actor, $6 reason, $7 data. No row: the state was not $2.
-- What the new state records rides along when given: $8 intent, $9 decision, $10 priority,
-- $11 the last message routed, $12 the escalation reason and $13 its story (entering escalated:
-- the table's CHECK wants the reason with the state). $14 now (NULL: the database's): the one
-- time source of the code that compares these times (core/clock.h).
WITH moved AS (
  UPDATE threads
  SET state = $3, version = version + 1, updated_at = coalesce($14::timestamptz, now()),
      intent = coalesce($8::jsonb, intent), decision = coalesce($9::jsonb, decision),
      priority = coalesce($10::smallint, priority),
      last_routed_message_id = coalesce($11::bigint, last_routed_message_id),
      escalation_reason = coalesce($12, escalation_reason),
      escalation = coalesce($13::jsonb, escalation),
      escalated_at = CASE WHEN $3 = 'escalated' AND $2 IS DISTINCT FROM 'escalated'
                          THEN coalesce($14::timestamptz, now()) ELSE escalated_at END
  WHERE id = $1 AND state = $2
  RETURNING id)
INSERT INTO transitions (entity, entity_id, from_state, event, to_state, actor, reason, data, at)
SELECT 'thread', id, $2, $4, $3, $5, $6, coalesce($7::jsonb, '{}'::jsonb),
       coalesce($14::timestamptz, now()) FROM moved
RETURNING entity_id

-- name: action_transition
-- As thread_transition, plus what the new state records: entering executing counts an attempt and
-- keeps the baseline the call is measured against; executed stamps the time and the verification
-- deadline; a result and error are kept when given.
-- $8 baseline, $9 verify deadline, $10 result, $11 error, $12 the vendor's reference, $13 now
-- (NULL: the database's): the state's time, and `started_at` the first time it enters executing
WITH moved AS (
  UPDATE actions
  SET state = $3, version = version + 1, updated_at = coalesce($13::timestamptz, now()),
      attempt = CASE WHEN $3 = 'executing' THEN attempt + 1 ELSE attempt END,
      started_at = CASE WHEN $3 = 'executing' THEN coalesce(started_at, coalesce($13::timestamptz, now()))
                        ELSE started_at END,
      baseline = coalesce($8::jsonb, baseline),
      executed_at = CASE WHEN $3 = 'executed' THEN coalesce($13::timestamptz, now()) ELSE executed_at END,
      verify_deadline = coalesce($9::timestamptz, verify_deadline),
      result = coalesce($10, result),
      error = coalesce($11, error),
      external_ref = coalesce($12::jsonb, external_ref)
  WHERE id = $1 AND state = $2
  RETURNING id)
INSERT INTO transitions (entity, entity_id, from_state, event, to_state, actor, reason, data, at)
SELECT 'action', id, $2, $4, $3, $5, $6, coalesce($7::jsonb, '{}'::jsonb),
       coalesce($13::timestamptz, now()) FROM moved
RETURNING entity_id

-- name: thread_state_lock
SELECT state FROM threads WHERE id = $1 FOR UPDATE

-- name: action_state_lock
SELECT state FROM actions WHERE id = $1 FOR UPDATE

-- name: thread_summary
-- What an operator's notification says about an escalated thread: the reason, the last thing the
-- customer said, and the log of its actions.
SELECT location, customer_phone, escalation_reason, escalation ->> 'detail' AS detail,
       (SELECT body FROM messages WHERE thread_id = t.id AND direction = 'in' ORDER BY id DESC LIMIT 1) AS last,
       (SELECT string_agg(a.kind || ' ' || a.state || coalesce(' (' || a.result || ')', ''), '; ' ORDER BY a.id)
        FROM actions a WHERE a.thread_id = t.id AND a.kind <> 'send_message') AS actions
FROM threads t WHERE id = $1

-- name: action_flag_rollback
-- $1 id, $2 {by, reason}, $3 now (NULL: the database's)
UPDATE actions
SET rollback_needed = true,
    rollback = $2::jsonb || jsonb_build_object('at', coalesce($3::timestamptz, now()))
WHERE id = $1

-- name: action_thread_lock
-- Locks the thread an action belongs to (a thread before its actions, always).
SELECT t.id FROM threads t WHERE t.id = (SELECT thread_id FROM actions WHERE id = $1) FOR UPDATE OF t

-- name: action_set_recovery_deadline
-- The first look of a worker that inherited an `executing` action: how long it keeps looking.
UPDATE actions SET verify_deadline = $2
WHERE id = $1 AND state = 'executing' AND verify_deadline IS NULL
