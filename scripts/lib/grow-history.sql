-- A month of past traffic in a database where `clubos bench flow` has run once: its threads,
-- actions, messages and their whole history copied :copies times, each copy two hours older than
-- the one before, closed, with its own ids, phone numbers and idempotency keys, so that the
-- indexes hold as many distinct keys as real traffic would, written oldest first. Used by scripts/bench-growth.
-- psql -v copies=N -f grow-history.sql URL
\set ON_ERROR_STOP on
SELECT max(id) AS seed_threads FROM threads \gset
SELECT max(id) AS seed_actions FROM actions \gset
SELECT max(id) AS seed_messages FROM messages \gset

BEGIN;
INSERT INTO threads (id, location, customer_phone, facility_line, state, version, priority, intent,
                     decision, escalation_reason, escalation, claimed_by, last_routed_message_id,
                     created_at, updated_at, paused_until, paused_by, escalated_at)
SELECT t.id + k * :seed_threads, t.location, t.customer_phone || '-' || k, t.facility_line,
       'closed', t.version + 1, t.priority, t.intent, t.decision, t.escalation_reason,
       t.escalation, t.claimed_by, t.last_routed_message_id + k * :seed_messages,
       t.created_at - k * interval '2 hours', t.updated_at - k * interval '2 hours', NULL, NULL,
       t.escalated_at - k * interval '2 hours'
FROM threads t, generate_series(1, :copies) k
WHERE t.id <= :seed_threads
ORDER BY k DESC, t.id;

INSERT INTO actions (id, thread_id, kind, target, params, triggered_by, reason, booking_id, state,
                     version, attempt, idempotency_key, result, error, decision, rollback_needed,
                     human_override, confirm_expires_at, executed_at, verify_deadline, baseline,
                     created_at, updated_at, confirmed_by, external_ref, rollback, started_at)
SELECT a.id + k * :seed_actions, a.thread_id + k * :seed_threads, a.kind, a.target, a.params,
       a.triggered_by, a.reason, a.booking_id, a.state, a.version, a.attempt,
       a.idempotency_key || ':copy-' || k, a.result, a.error, a.decision, a.rollback_needed,
       a.human_override, a.confirm_expires_at - k * interval '2 hours',
       a.executed_at - k * interval '2 hours', a.verify_deadline - k * interval '2 hours',
       a.baseline, a.created_at - k * interval '2 hours', a.updated_at - k * interval '2 hours',
       a.confirmed_by, a.external_ref, a.rollback, a.started_at - k * interval '2 hours'
FROM actions a, generate_series(1, :copies) k
WHERE a.id <= :seed_actions
ORDER BY k DESC, a.id;

INSERT INTO messages (id, thread_id, direction, external_id, from_phone, to_phone, body,
                      received_at, source)
SELECT m.id + k * :seed_messages, m.thread_id + k * :seed_threads, m.direction,
       m.external_id || ':copy-' || k, m.from_phone || '-' || k, m.to_phone, m.body,
       m.received_at - k * interval '2 hours', m.source
FROM messages m, generate_series(1, :copies) k
WHERE m.id <= :seed_messages
ORDER BY k DESC, m.id;

INSERT INTO transitions (entity, entity_id, from_state, event, to_state, actor, reason, data, at)
SELECT tr.entity,
       tr.entity_id + k * CASE tr.entity WHEN 'thread' THEN :seed_threads ELSE :seed_actions END,
       tr.from_state, tr.event, tr.to_state, tr.actor, tr.reason, tr.data,
       tr.at - k * interval '2 hours'
FROM transitions tr, generate_series(1, :copies) k
ORDER BY k DESC, tr.id;

-- The seed itself is history too, older than every copy: nothing of it is in the last hour, so
-- the policy's look at a device's last hour sees what it sees on an empty database.
UPDATE threads SET state = 'closed', created_at = created_at - (:copies + 1) * interval '2 hours',
                   updated_at = updated_at - (:copies + 1) * interval '2 hours'
WHERE id <= :seed_threads;
UPDATE actions SET created_at = created_at - (:copies + 1) * interval '2 hours',
                   updated_at = updated_at - (:copies + 1) * interval '2 hours',
                   started_at = started_at - (:copies + 1) * interval '2 hours',
                   executed_at = executed_at - (:copies + 1) * interval '2 hours'
WHERE id <= :seed_actions;
UPDATE messages SET received_at = received_at - (:copies + 1) * interval '2 hours'
WHERE id <= :seed_messages;
COMMIT;

SELECT setval('threads_id_seq', (SELECT max(id) FROM threads));
SELECT setval('actions_id_seq', (SELECT max(id) FROM actions));
SELECT setval('messages_id_seq', (SELECT max(id) FROM messages));
VACUUM ANALYZE threads, actions, messages, transitions;
