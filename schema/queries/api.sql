-- Named statements of the HTTP API: what operators read, idempotency keys, readiness and metrics.

-- name: api_thread_get
SELECT id, state, location, customer_phone, facility_line, version, priority, intent::text AS intent,
       decision::text AS decision, escalation_reason, escalation::text AS escalation, claimed_by,
       intent ->> 'category' AS category, created_at, updated_at, paused_until, paused_by
FROM threads WHERE id = $1

-- name: api_thread_list
-- Newest first. $1 state, $2 location (NULL: any), $3 cursor: ids below it (NULL: from the top),
-- $4 limit.
SELECT id, state, location, customer_phone, priority, escalation_reason, claimed_by, intent ->> 'category' AS category,
       created_at, updated_at
FROM threads
WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR location = $2)
  AND ($3::bigint IS NULL OR id < $3)
ORDER BY id DESC
LIMIT $4::int

-- name: api_thread_messages
-- The newest $2 messages of a thread (the API shows them oldest first).
SELECT id, direction, external_id, from_phone, to_phone, body, received_at
FROM messages WHERE thread_id = $1
ORDER BY id DESC
LIMIT $2::int

-- name: api_thread_actions
SELECT id, kind, state, result, triggered_by, reason, target::text AS target, booking_id, attempt,
       rollback_needed, human_override, created_at, updated_at, params ->> 'text' AS text, executed_at
FROM actions WHERE thread_id = $1
ORDER BY id

-- name: api_transitions
-- The first $3 steps of one entity's history, in order.
SELECT id, from_state, event, to_state, actor, reason, data::text AS data, at
FROM transitions WHERE entity = $1 AND entity_id = $2
ORDER BY id
LIMIT $3::int

-- name: api_action_get
SELECT id, thread_id, kind, state, result, error, triggered_by, reason, target::text AS target,
       params::text AS params, booking_id, attempt, idempotency_key, rollback_needed, human_override,
       confirmed_by, confirm_expires_at, executed_at, verify_deadline, decision::text AS decision,
       created_at, updated_at
FROM actions WHERE id = $1

-- name: api_action_outcome
SELECT action_id, action, bay, location, result, followed_sop, trigger_source, human_override,
       linked_thread, rollback_needed, state, "timestamp", schema_version
FROM action_outcomes WHERE action_id = $1

-- name: api_escalations
-- The operator queue: escalated threads, smaller priority first, then the longest waiting.
-- $1 'open' (all) | 'unclaimed' | 'claimed'; $2,$3,$4 the cursor (priority, escalated_at, id) to
-- continue after (NULLs: from the start); $5 limit; filters (NULL: any) $6 location, $7 reason,
-- $8 claimed by.
SELECT t.id, t.location, t.customer_phone, t.priority, t.escalation_reason, t.escalation::text AS escalation,
       t.claimed_by, t.escalated_at, t.created_at, t.intent ->> 'category' AS category,
       t.intent -> 'entities' ->> 'bay' AS bay, t.paused_until, t.paused_by
FROM threads t
WHERE t.state = 'escalated'
  AND ($1 = 'open' OR ($1 = 'claimed') = (t.claimed_by IS NOT NULL))
  AND ($4::bigint IS NULL OR (t.priority, t.escalated_at, t.id) > ($2::smallint, $3::timestamptz, $4::bigint))
  AND ($6::text IS NULL OR t.location = $6) AND ($7::text IS NULL OR t.escalation_reason = $7)
  AND ($8::text IS NULL OR t.claimed_by = $8)
ORDER BY t.priority, t.escalated_at, t.id
LIMIT $5::int

-- name: api_idempotency_claim
-- Takes the key for this transaction; a concurrent request with the same key waits here until
-- the holder commits (then finds the answer) or rolls back (then takes the key itself).
INSERT INTO api_idempotency_keys (principal, key, request_hash)
VALUES ($1, $2, $3)
ON CONFLICT (principal, key) DO NOTHING
RETURNING 1 AS claimed

-- name: api_idempotency_get
SELECT request_hash, status, response FROM api_idempotency_keys WHERE principal = $1 AND key = $2

-- name: api_idempotency_store
UPDATE api_idempotency_keys SET status = $3, response = $4 WHERE principal = $1 AND key = $2

-- name: api_idempotency_prune
-- $1 retention in ms
DELETE FROM api_idempotency_keys WHERE created_at < now() - $1::bigint * interval '1 millisecond'

-- name: api_schema_version
SELECT coalesce(max(version), 0) AS version FROM schema_migrations

-- name: api_metrics_jobs
SELECT queue, state, count(*) AS n FROM jobs GROUP BY queue, state

-- name: api_metrics_settled_start
-- Where counting starts when the process starts: the newest row begun more than $1 ms ago (a
-- backward scan over the last window only).
SELECT coalesce((SELECT id FROM transitions WHERE at < now() - $1::bigint * interval '1 millisecond'
                 ORDER BY id DESC LIMIT 1), 0) AS upto

-- name: api_metrics_settled
-- The newest transition id below which every row is committed or gone: rows begun more than
-- $2 ms ago (twice the longest transaction ClubOS runs). $1 the previous boundary.
SELECT coalesce(max(id), $1::bigint) AS upto FROM transitions
WHERE id > $1::bigint AND at < now() - $2::bigint * interval '1 millisecond'

-- name: api_metrics_tally
-- Transitions with ids in ($1, $2] ($2 NULL: no upper bound), counted by what the metrics label:
-- machine and event, an escalation's reason, an action's kind, and how an action ended when this
-- transition ended it (it entered a final state). That result is the action's own `result`
-- column (success, failed, inconclusive: set in the transaction of the ending transition and never
-- changed after) for an action that ran; one called off before it ran has none and ends as its
-- state says (rejected, cancelled, escalated), a confirmation nobody answered as `expired`.
SELECT t.entity, t.event,
       CASE WHEN t.entity = 'thread' AND t.to_state = 'escalated'
                 AND t.from_state IS DISTINCT FROM 'escalated' THEN coalesce(t.reason, '') END AS escalation_reason,
       coalesce(a.kind, '') AS kind,
       CASE WHEN t.entity = 'action' AND t.to_state IN ('verified', 'escalated', 'rejected', 'cancelled')
                 AND t.from_state IS DISTINCT FROM t.to_state
            THEN coalesce(a.result, CASE WHEN t.event = 'confirmation_expired' THEN 'expired'
                                         ELSE t.to_state END) END AS action_result,
       count(*) AS n
FROM transitions t
LEFT JOIN actions a ON t.entity = 'action' AND a.id = t.entity_id
WHERE t.id > $1::bigint AND ($2::bigint IS NULL OR t.id <= $2::bigint)
GROUP BY 1, 2, 3, 4, 5

-- name: api_metrics_llm
-- OperatorGPT's calls this month (UTC), by outcome and tier: counters that restart monthly.
SELECT outcome, tier, count(*) AS n, coalesce(sum(tokens_in), 0) AS tokens_in,
       coalesce(sum(tokens_out), 0) AS tokens_out, coalesce(sum(cost_usd), 0)::float8 AS cost
FROM llm_calls WHERE state = 'done' AND created_at >= date_trunc('month', now())
GROUP BY outcome, tier

-- name: api_metrics_llm_budget
-- Each location's tokens since yesterday (UTC date) and reserved now; the first row says whether
-- the endpoint is down (a row even with no budget in use).
SELECT NULL AS location, 0::bigint AS used, 0::bigint AS reserved,
       EXISTS (SELECT 1 FROM llm_outages WHERE ended_at IS NULL) AS degraded
UNION ALL
SELECT location, sum(tokens)::bigint, sum(reserved)::bigint, false
FROM token_usage WHERE day >= (now() AT TIME ZONE 'UTC')::date - 1
GROUP BY location
