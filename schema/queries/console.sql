-- Named statements of the operator console's routes: the live event feed, takeover, status.

-- name: events_after
-- The history after the cursor ($1 tx, $2 id), in commit-safe order (migration 0012): only rows of
-- transactions older than every one still running, so no row can later appear behind the cursor.
-- $3 limit.
SELECT x.id, x.tx::text AS tx, x.entity, x.entity_id,
       CASE WHEN x.entity = 'thread' THEN x.entity_id ELSE a.thread_id END AS thread_id,
       x.from_state, x.event, x.to_state, x.actor, x.at
FROM transitions x
LEFT JOIN actions a ON x.entity = 'action' AND a.id = x.entity_id
WHERE (x.tx, x.id) > ($1::xid8, $2::bigint)
  AND x.tx < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY x.tx, x.id
LIMIT $3::int

-- name: status_agents
-- Every bay agent that ever reported, with its last heartbeat.
SELECT device_id, tps_version, tps_running, radar_reachable, last_seen_at FROM agent_devices

-- name: status_integrations
-- What each kind of action met at its vendor in the last hour ($1 now): calls that succeeded or
-- failed (the vendor refused, broke, or the world did not change), and the last success.
SELECT a.kind,
       count(*) FILTER (WHERE x.event IN ('execution_succeeded', 'verification_passed')) AS ok,
       count(*) FILTER (WHERE x.event IN ('execution_failed', 'execution_unknown',
                                          'verification_failed', 'verification_timeout')) AS failed,
       max(x.at) FILTER (WHERE x.event IN ('execution_succeeded', 'verification_passed')) AS last_ok,
       max(x.at) FILTER (WHERE x.event IN ('execution_failed', 'execution_unknown',
                                           'verification_failed', 'verification_timeout')) AS last_failed
FROM transitions x JOIN actions a ON x.entity = 'action' AND a.id = x.entity_id
WHERE x.at > coalesce($1::timestamptz, now()) - interval '1 hour'
  AND x.event IN ('execution_succeeded', 'verification_passed', 'execution_failed',
                  'execution_unknown', 'verification_failed', 'verification_timeout')
GROUP BY a.kind

-- name: status_notifications
-- The operators' notifications (Slack) of the last hour ($1 now) that failed: still retrying, or
-- dead. A sent one leaves no row (a completed job is deleted), so only failures can be counted.
SELECT count(*) FILTER (WHERE state = 'dead' OR attempt > 0) AS failed,
       count(*) FILTER (WHERE state = 'dead') AS dead
FROM jobs WHERE kind = 'notify_operator' AND created_at > coalesce($1::timestamptz, now()) - interval '1 hour'

-- name: status_llm
-- OperatorGPT in the last hour ($1 now): calls that answered, that failed, cache hits, the last
-- answer, and the open outage if any.
SELECT count(*) FILTER (WHERE outcome = 'ok' OR outcome = 'superseded') AS ok,
       count(*) FILTER (WHERE outcome IN ('timeout', 'unavailable', 'rate_limited', 'quota',
                                          'bad_request', 'refused', 'malformed', 'abandoned')) AS failed,
       count(*) FILTER (WHERE cache_hit) AS cached,
       max(finished_at) FILTER (WHERE outcome = 'ok') AS last_ok,
       (SELECT started_at FROM llm_outages WHERE ended_at IS NULL) AS outage_since,
       (SELECT reason FROM llm_outages WHERE ended_at IS NULL) AS outage_reason
FROM llm_calls WHERE created_at > coalesce($1::timestamptz, now()) - interval '1 hour'

-- name: status_today
-- Today's figures since $1 (the facility's midnight): customers' messages, threads begun, those
-- the automation finished (verified, never escalated), escalations by reason, and the median time
-- from a thread's first message to its verification.
WITH threads_today AS (
  SELECT t.id, t.created_at FROM threads t WHERE t.created_at >= $1::timestamptz),
verified AS (
  SELECT tt.id, min(x.at) - tt.created_at AS took
  FROM threads_today tt JOIN transitions x ON x.entity = 'thread' AND x.entity_id = tt.id
  WHERE x.to_state = 'verified' GROUP BY tt.id, tt.created_at),
escalated AS (
  SELECT DISTINCT x.entity_id AS id FROM threads_today tt
  JOIN transitions x ON x.entity = 'thread' AND x.entity_id = tt.id AND x.to_state = 'escalated')
SELECT (SELECT count(*) FROM messages WHERE direction = 'in' AND received_at >= $1::timestamptz) AS messages,
       (SELECT count(*) FROM threads_today) AS threads,
       (SELECT count(*) FROM verified v WHERE NOT EXISTS (SELECT 1 FROM escalated e WHERE e.id = v.id)) AS automated,
       (SELECT extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY took)) FROM verified) AS median_to_verified_s,
       (SELECT coalesce(jsonb_object_agg(reason, n), '{}'::jsonb)::text FROM (
          SELECT coalesce(x.data ->> 'reason', t.escalation_reason, 'unknown') AS reason, count(*) AS n
          FROM transitions x JOIN threads t ON t.id = x.entity_id
          WHERE x.entity = 'thread' AND x.to_state = 'escalated' AND x.from_state IS DISTINCT FROM 'escalated'
            AND x.at >= $1::timestamptz
          GROUP BY 1) r) AS escalations_by_reason

-- name: events_controls
-- The last change of the emergency stops or toggles (their audit, control_events), and where a
-- feed that has seen nothing starts: after every transaction already finished.
SELECT coalesce(max(id), 0) AS id, pg_snapshot_xmin(pg_current_snapshot())::text AS tx
FROM control_events
