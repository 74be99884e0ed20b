-- Named statements of feedback and cases (workflows/feedback.cpp, `clubos feedback export`).

-- name: feedback_answer
-- The action an operator's verdict is about. Not locked: what is read of it never changes once it
-- went out, and the verdict's upsert takes turns with another on its own row.
SELECT id, thread_id, kind, triggered_by, executed_at
FROM actions WHERE id = $1

-- name: feedback_followup_target
-- What a customer's text on thread $1 may say did not help: the thread's newest primary action
-- (the answer or action its routing chose) or operator's action, when it is the automation's own,
-- went out, and went out within $2 ms before $3 (NULL: the database's now). A reply or an action
-- of an operator's since then is what the customer answers, not the automation.
SELECT id FROM (
  SELECT id, triggered_by, executed_at FROM actions
  WHERE thread_id = $1 AND params ->> 'role' IN ('primary', 'operator')
  ORDER BY id DESC
  LIMIT 1) newest
WHERE triggered_by = 'router' AND executed_at IS NOT NULL
  AND executed_at > coalesce($3::timestamptz, now()) - $2::bigint * interval '1 millisecond'

-- name: feedback_upsert
-- One verdict per author per action: a second replaces the first. $1 action, $2 thread, $3 source,
-- $4 author, $5 helpful, $6 correction, $7 message, $8 matched phrase, $9 now.
INSERT INTO feedback (action_id, thread_id, source, author, helpful, correction, message_id, matched,
                      created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9::timestamptz, now()), coalesce($9::timestamptz, now()))
ON CONFLICT (action_id, author) DO UPDATE
SET helpful = EXCLUDED.helpful, correction = EXCLUDED.correction, message_id = EXCLUDED.message_id,
    matched = EXCLUDED.matched, version = feedback.version + 1, updated_at = EXCLUDED.updated_at
RETURNING id, version, created_at, updated_at

-- name: feedback_history_insert
-- $1 feedback, $2 action, $3 author, $4 helpful, $5 correction, $6 message, $7 version, $8 now
INSERT INTO feedback_history (feedback_id, action_id, author, helpful, correction, message_id, version, at)
VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8::timestamptz, now()))

-- name: feedback_of_thread
-- Every verdict on the thread's actions, for its page.
SELECT id, action_id, source, author, helpful, correction, message_id, version, updated_at
FROM feedback WHERE thread_id = $1
ORDER BY action_id, id

-- name: case_from_action
-- The case of an action that failed, ended inconclusive or was flagged for a rollback: once per
-- action (the first of those outcomes names it), in the transaction that recorded the outcome.
-- The route is the thread's routing that preceded the action's birth in the history; the text it
-- answered, the customer's newest before the action was made. $1 action, $2 outcome, $3 now.
-- No row: the action had its case already.
INSERT INTO cases (origin, thread_id, action_id, message_id, outcome, intent, answer, sop_id,
                   sop_version, created_at, updated_at)
SELECT 'action', a.thread_id, a.id, q.id, $2, r.intent,
       CASE WHEN a.kind = 'send_message' THEN a.params ->> 'text' END,
       -- The SOP the action followed, as its reason cites it ("SOP faq.price v3: ...",
       -- workflows/knowledge_cache.h CiteSop); null for an action that cites none.
       substring(a.reason from '^SOP ([a-z0-9][a-z0-9._-]*) v[0-9]+'),
       substring(a.reason from '^SOP [a-z0-9][a-z0-9._-]* v([0-9]+)')::integer,
       coalesce($3::timestamptz, now()), coalesce($3::timestamptz, now())
FROM actions a
LEFT JOIN LATERAL (
  SELECT m.id FROM messages m
  WHERE m.thread_id = a.thread_id AND m.direction = 'in' AND m.received_at <= a.created_at
  ORDER BY m.id DESC LIMIT 1) q ON true
LEFT JOIN LATERAL (
  SELECT t.data -> 'intent' AS intent FROM transitions t
  WHERE t.entity = 'thread' AND t.entity_id = a.thread_id AND t.event = 'routed'
    AND t.id < (SELECT min(b.id) FROM transitions b WHERE b.entity = 'action' AND b.entity_id = a.id)
  ORDER BY t.id DESC LIMIT 1) r ON true
WHERE a.id = $1
ON CONFLICT (action_id) WHERE origin = 'action' DO NOTHING
RETURNING id

-- name: case_from_feedback
-- The case of an unhelpful verdict: once per feedback row. A verdict replaced by another
-- unhelpful one keeps its case; one withdrawn (made helpful) while new and then made unhelpful
-- again is new again. $1 feedback, $2 now.
INSERT INTO cases (origin, thread_id, action_id, message_id, feedback_id, intent, answer, sop_id,
                   sop_version, created_at, updated_at)
SELECT 'feedback', f.thread_id, f.action_id, q.id, f.id, r.intent,
       CASE WHEN a.kind = 'send_message' THEN a.params ->> 'text' END,
       substring(a.reason from '^SOP ([a-z0-9][a-z0-9._-]*) v[0-9]+'),
       substring(a.reason from '^SOP [a-z0-9][a-z0-9._-]* v([0-9]+)')::integer,
       coalesce($2::timestamptz, now()), coalesce($2::timestamptz, now())
FROM feedback f
JOIN actions a ON a.id = f.action_id
LEFT JOIN LATERAL (
  SELECT m.id FROM messages m
  WHERE m.thread_id = a.thread_id AND m.direction = 'in' AND m.received_at <= a.created_at
  ORDER BY m.id DESC LIMIT 1) q ON true
LEFT JOIN LATERAL (
  SELECT t.data -> 'intent' AS intent FROM transitions t
  WHERE t.entity = 'thread' AND t.entity_id = a.thread_id AND t.event = 'routed'
    AND t.id < (SELECT min(b.id) FROM transitions b WHERE b.entity = 'action' AND b.entity_id = a.id)
  ORDER BY t.id DESC LIMIT 1) r ON true
WHERE f.id = $1 AND NOT f.helpful
ON CONFLICT (feedback_id) DO UPDATE
SET state = CASE WHEN cases.closed_reason = 'withdrawn' THEN 'new' ELSE cases.state END,
    closed_reason = CASE WHEN cases.closed_reason = 'withdrawn' THEN NULL ELSE cases.closed_reason END,
    updated_at = EXCLUDED.updated_at
RETURNING id, state

-- name: case_withdraw
-- The verdict behind a new case became "helpful": the case closes, withdrawn. $1 feedback, $2 now.
UPDATE cases SET state = 'closed', closed_reason = 'withdrawn', updated_at = coalesce($2::timestamptz, now())
WHERE feedback_id = $1 AND state = 'new'
RETURNING id

-- name: case_of_feedback
SELECT id, state FROM cases WHERE feedback_id = $1

-- name: cases_export
-- Cases made since $1, oldest first, after id $2 (paging), at most $3: each with what the export
-- prints (app/cmd_feedback.cpp). Phone numbers are masked by the caller.
SELECT c.id, c.origin, c.state, c.closed_reason, c.thread_id, c.action_id, c.outcome,
       c.intent::text AS intent, c.answer, c.sop_id, c.sop_version, c.created_at,
       th.location, th.customer_phone,
       m.id AS message_id, m.body AS message, m.received_at AS message_at,
       a.kind, a.state AS action_state, a.result, a.error, a.reason AS followed_sop, a.triggered_by,
       a.rollback_needed, a.target::text AS target, a.executed_at,
       f.source AS feedback_source, f.author AS feedback_author, f.helpful, f.correction,
       f.version AS feedback_version, f.updated_at AS feedback_at, f.matched,
       fm.body AS followup,
       (SELECT coalesce(jsonb_agg(to_jsonb(o) ORDER BY o.action_id), '[]'::jsonb)::text
        FROM action_outcomes o
        WHERE (c.thread_id IS NOT NULL AND o.linked_thread = c.thread_id) OR o.action_id = c.action_id)
         AS action_outcomes
FROM cases c
JOIN actions a ON a.id = c.action_id
LEFT JOIN threads th ON th.id = c.thread_id
LEFT JOIN messages m ON m.id = c.message_id
LEFT JOIN feedback f ON f.id = c.feedback_id
LEFT JOIN messages fm ON fm.id = f.message_id
WHERE c.created_at >= $1 AND c.id > $2
ORDER BY c.id
LIMIT $3::int
