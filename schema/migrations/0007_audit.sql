-- Audit: the questions people ask of the history, answered by name (docs/audit.md is the
-- cookbook, and a test runs every query in it). Views only: nothing is stored, no index is added,
-- nothing on the flow's path changes, and every answer holds for rows written before this
-- migration too. Times are timestamptz; `::date` and what psql prints follow the session's
-- TimeZone (SET TimeZone = 'America/Halifax' for a location's local days).

-- Everything that happened on a thread, in order: the customer's messages, the thread's
-- transitions and those of its actions. Replies to the customer are send_message actions: their
-- text is on the action's `requested` row. Rows written in one transaction share its `at`
-- (Postgres' now()) and keep the order they were written in; a message comes before the
-- transitions it caused. ORDER BY seq within a thread.
CREATE VIEW audit_thread_timeline AS
SELECT e.thread_id,
       row_number() OVER (PARTITION BY e.thread_id ORDER BY e.at, e.rank, e.id) AS seq,
       e.at,
       e.source,
       e.action_id,
       e.action_kind,
       e.from_state,
       e.event,
       e.to_state,
       e.actor,
       e.detail,
       e.data
FROM (
  SELECT m.thread_id, m.received_at AS at, 0 AS rank, m.id,
         'message' AS source, NULL::bigint AS action_id, NULL::text AS action_kind,
         NULL::text AS from_state, 'message_' || m.direction AS event, NULL::text AS to_state,
         CASE m.direction WHEN 'in' THEN 'customer' ELSE 'clubos' END AS actor,
         m.body AS detail,
         jsonb_build_object('message_id', m.id, 'external_id', m.external_id) AS data
  FROM messages m
  UNION ALL
  SELECT tr.entity_id, tr.at, 1, tr.id,
         'thread', NULL, NULL,
         tr.from_state, tr.event, tr.to_state, tr.actor, tr.reason, tr.data
  FROM transitions tr
  WHERE tr.entity = 'thread'
  UNION ALL
  SELECT a.thread_id, tr.at, 1, tr.id,
         'action', a.id, a.kind,
         tr.from_state, tr.event, tr.to_state, tr.actor,
         -- The request names what was asked for and why; later rows say what happened.
         CASE WHEN tr.event = 'requested'
              THEN a.reason || coalesce(' [bay ' || (a.target ->> 'bay') || ']', '')
                            || coalesce(' [door ' || (a.target ->> 'door') || ']', '')
                            || coalesce(': ' || (a.params ->> 'text'), '')
              ELSE tr.reason END,
         tr.data
  FROM transitions tr
  JOIN actions a ON a.id = tr.entity_id
  WHERE tr.entity = 'action' AND a.thread_id IS NOT NULL
) e;

-- Every physical action (bay PC resets and reboots, door unlocks): who or what triggered it, who
-- confirmed it, the policy version and the reasons of the decision behind it, and the proven
-- result. An operator's action has no policy decision (policy_version NULL, decision 'execute',
-- reasons "performAction by operator:<name>"), unless it was an approved suggestion: then the
-- policy's own decision is shown, and suggestion_id links it. result_at is when the result was
-- set (verified, failed or inconclusive).
CREATE VIEW audit_physical_actions AS
SELECT a.id                                  AS action_id,
       a.created_at                          AS requested_at,
       a.kind,
       a.target ->> 'location'               AS location,
       (a.target ->> 'bay')::int             AS bay,
       a.target ->> 'door'                   AS door,
       a.target ->> 'device_id'              AS device_id,
       a.thread_id,
       a.booking_id,
       a.triggered_by,
       a.confirmed_by,
       a.human_override,
       s.id                                  AS suggestion_id,
       a.reason                              AS followed_sop,
       (d.decision ->> 'policy_version')::int AS policy_version,
       d.decision ->> 'outcome'              AS decision,
       (SELECT string_agg(r, '; ') FROM jsonb_array_elements_text(d.decision -> 'reasons') r)
                                             AS reasons,
       a.state,
       a.result,
       a.attempt,
       a.executed_at,
       h.verified_at,
       h.result_at,
       a.error,
       a.rollback_needed
FROM actions a
LEFT JOIN suggestions s ON s.action_id = a.id
CROSS JOIN LATERAL (SELECT coalesce(s.decision, a.decision) AS decision) d
LEFT JOIN LATERAL (
  SELECT min(tr.at) FILTER (WHERE tr.event = 'verification_passed') AS verified_at,
         min(tr.at) FILTER (WHERE tr.event IN ('verification_passed', 'verification_failed',
                                                'verification_timeout', 'execution_failed',
                                                'execution_unknown'))   AS result_at
  FROM transitions tr
  WHERE tr.entity = 'action' AND tr.entity_id = a.id) h ON true
WHERE a.kind IN ('reset_trackman', 'reboot_pc', 'unlock_door');

-- How often each kind of action works, per location and bay (or door). `finished` actions have a
-- result; `called_off` ones never ran (declined, cancelled, expired, stopped); the rest are in
-- flight. success_pct is success / finished.
CREATE VIEW audit_action_success AS
SELECT a.target ->> 'location'          AS location,
       a.kind,
       (a.target ->> 'bay')::int        AS bay,
       a.target ->> 'door'              AS door,
       count(*)                         AS requested,
       count(a.result)                  AS finished,
       count(*) FILTER (WHERE a.result = 'success')      AS success,
       count(*) FILTER (WHERE a.result = 'failed')       AS failed,
       count(*) FILTER (WHERE a.result = 'inconclusive') AS inconclusive,
       count(*) FILTER (WHERE a.result IS NULL AND a.state IN ('rejected', 'cancelled', 'escalated'))
                                        AS called_off,
       round(100.0 * count(*) FILTER (WHERE a.result = 'success') / nullif(count(a.result), 0), 1)
                                        AS success_pct,
       count(*) FILTER (WHERE a.rollback_needed) AS rollbacks_flagged
FROM actions a
GROUP BY 1, 2, 3, 4;

-- Escalations by reason code per day and location: every time a thread entered `escalated`
-- (the reason code is the transition's reason). threads_open_now: how many of those threads
-- still wait for an operator.
CREATE VIEW audit_escalations_daily AS
SELECT tr.at::date                  AS day,
       t.location,
       tr.reason,
       count(*)                     AS escalations,
       count(DISTINCT tr.entity_id) AS threads,
       count(DISTINCT tr.entity_id) FILTER (WHERE t.state = 'escalated') AS threads_open_now
FROM transitions tr
JOIN threads t ON t.id = tr.entity_id
WHERE tr.entity = 'thread' AND tr.to_state = 'escalated'
  AND tr.from_state IS DISTINCT FROM 'escalated'
GROUP BY 1, 2, 3;

-- Actions flagged rollback_needed: who flagged them, why and when (actions.rollback keeps the
-- latest flag; times_flagged counts them all), and who resolved the thread afterwards. ClubOS
-- never undoes anything itself: this is the operators' list of manual corrections.
CREATE VIEW audit_rollbacks AS
SELECT a.id                                  AS action_id,
       a.kind,
       a.target ->> 'location'               AS location,
       (a.target ->> 'bay')::int             AS bay,
       a.target ->> 'door'                   AS door,
       a.thread_id,
       a.booking_id,
       a.triggered_by,
       a.confirmed_by,
       a.created_at                          AS requested_at,
       a.executed_at,
       a.state,
       a.result,
       a.rollback ->> 'by'                   AS flagged_by,
       a.rollback ->> 'reason'               AS flag_reason,
       (a.rollback ->> 'at')::timestamptz    AS flagged_at,
       (SELECT count(*) FROM transitions tr
        WHERE tr.entity = 'action' AND tr.entity_id = a.id AND tr.event = 'rollback_flagged')
                                             AS times_flagged,
       t.state                               AS thread_state,
       r.actor                               AS resolved_by,
       r.reason                              AS resolution,
       r.data ->> 'note'                     AS resolution_note,
       r.at                                  AS resolved_at
FROM actions a
LEFT JOIN threads t ON t.id = a.thread_id
LEFT JOIN LATERAL (
  SELECT tr.actor, tr.reason, tr.data, tr.at
  FROM transitions tr
  WHERE tr.entity = 'thread' AND tr.entity_id = a.thread_id AND tr.event = 'resolved'
    AND tr.at >= (a.rollback ->> 'at')::timestamptz
  ORDER BY tr.id
  LIMIT 1) r ON true
WHERE a.rollback_needed;

-- What ClubOS would have done while auto-send / auto-execute were off, and what operators made of
-- it: approved (then run as an operator's action, action_id and its result) or rejected.
CREATE VIEW audit_suggestions AS
SELECT s.id                                    AS suggestion_id,
       s.created_at                            AS suggested_at,
       s.thread_id,
       s.target ->> 'location'                 AS location,
       s.kind,
       (s.target ->> 'bay')::int               AS bay,
       s.target ->> 'door'                     AS door,
       s.reason                                AS followed_sop,
       (s.decision ->> 'policy_version')::int  AS policy_version,
       (SELECT string_agg(r, '; ') FROM jsonb_array_elements_text(s.decision -> 'reasons') r)
                                               AS reasons,
       s.state,
       s.decided_by,
       s.decided_at,
       round(extract(epoch FROM s.decided_at - s.created_at)::numeric, 1) AS seconds_to_decision,
       s.action_id,
       a.state                                 AS action_state,
       a.result                                AS action_result
FROM suggestions s
LEFT JOIN actions a ON a.id = s.action_id;

-- From the customer's first message to the thread's first `verified` transition, per verified
-- thread. Part of it may be the customer's own time: customer_seconds is the wait between
-- ClubOS asking for a YES and getting it; clubos_seconds is the rest.
CREATE VIEW audit_message_to_verified AS
SELECT t.id                                                   AS thread_id,
       t.location,
       t.intent ->> 'category'                                AS category,
       va.kind                                                AS action_kind,
       fm.at                                                  AS first_message_at,
       v.at                                                   AS verified_at,
       round(extract(epoch FROM v.at - fm.at)::numeric, 3)    AS seconds,
       round(extract(epoch FROM c.confirmed_at - c.asked_at)::numeric, 3) AS customer_seconds,
       round(extract(epoch FROM (v.at - fm.at) - coalesce(c.confirmed_at - c.asked_at, interval '0'))::numeric, 3)
                                                              AS clubos_seconds
FROM threads t
JOIN LATERAL (
  SELECT tr.id, tr.at, (tr.data ->> 'action_id')::bigint AS action_id
  FROM transitions tr
  WHERE tr.entity = 'thread' AND tr.entity_id = t.id AND tr.event = 'verified'
  ORDER BY tr.id
  LIMIT 1) v ON true
JOIN LATERAL (
  SELECT min(m.received_at) AS at FROM messages m WHERE m.thread_id = t.id AND m.direction = 'in') fm
  ON true
LEFT JOIN actions va ON va.id = v.action_id
LEFT JOIN LATERAL (
  SELECT min(tr.at) FILTER (WHERE tr.event = 'confirmation_requested') AS asked_at,
         min(tr.at) FILTER (WHERE tr.event = 'confirmed')              AS confirmed_at
  FROM transitions tr
  WHERE tr.entity = 'thread' AND tr.entity_id = t.id AND tr.id < v.id) c ON true;

-- Every routing decision with the autonomy profile version that made it. threads.decision keeps a
-- thread's latest decision only; the `routed` transitions keep all of them (intent, decision,
-- reasons and the facts it read), so a thread routed twice counts twice here.
CREATE VIEW audit_decisions_by_policy AS
SELECT (tr.data -> 'decision' ->> 'policy_version')::int AS policy_version,
       p.state                                            AS policy_state,
       p.note                                             AS policy_note,
       p.approved_by                                      AS policy_approved_by,
       p.approved_at                                      AS policy_approved_at,
       tr.at                                              AS decided_at,
       tr.entity_id                                       AS thread_id,
       t.location,
       tr.data -> 'intent' ->> 'category'                 AS category,
       tr.data -> 'intent' ->> 'action'                   AS intended_action,
       (tr.data -> 'intent' ->> 'confidence')::numeric    AS confidence,
       tr.data -> 'decision' ->> 'outcome'                AS outcome,
       tr.data -> 'decision' ->> 'escalation_reason'      AS escalation_reason,
       (SELECT string_agg(r, '; ')
        FROM jsonb_array_elements_text(tr.data -> 'decision' -> 'reasons') r) AS reasons,
       tr.data -> 'decision' -> 'facts'                   AS facts
FROM transitions tr
JOIN threads t ON t.id = tr.entity_id
LEFT JOIN policy_versions p ON p.id = (tr.data -> 'decision' ->> 'policy_version')::int
WHERE tr.entity = 'thread' AND tr.event = 'routed';
