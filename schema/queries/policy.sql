-- The policy's reads and the controls' writes (workflows/policy_store.h).

-- name: policy_active
SELECT id, profile::text AS profile FROM policy_versions WHERE state = 'active'

-- name: policy_snapshot
-- What every routing reads of the policy, in one round trip: the active profile, the engaged
-- emergency stops and the toggles. No row: no active version yet.
SELECT p.id, p.profile::text AS profile,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('scope', scope, 'reason', reason) ORDER BY scope),
                        '[]'::jsonb)
        FROM emergency_stops WHERE engaged)::text AS stops,
       (SELECT coalesce(jsonb_object_agg(name, enabled), '{}'::jsonb) FROM toggles)::text AS toggles
FROM policy_versions p WHERE p.state = 'active'

-- name: policy_bootstrap
-- The first version, from the config file, when the database has none. Recorded as proposed by
-- the config and approved by the migration, so the four-eyes rule holds for it too.
INSERT INTO policy_versions (profile, state, note, proposed_by, approved_by, approved_at)
SELECT $1::jsonb, 'active', 'initial profile from the configuration file', 'config', 'bootstrap', now()
WHERE NOT EXISTS (SELECT 1 FROM policy_versions)
ON CONFLICT DO NOTHING

-- name: policy_get
-- Ids are bigint on the way in: an id past the column's range finds nothing (it was truncated
-- to another version once).
SELECT id, profile::text AS profile, state, based_on, diff::text AS diff, note, proposed_by,
       proposed_at, approved_by, approved_at
FROM policy_versions WHERE id = $1::bigint

-- name: policy_get_lock
SELECT id, profile::text AS profile, state, based_on, proposed_by
FROM policy_versions WHERE id = $1::bigint FOR UPDATE

-- name: policy_active_lock
-- Taken by every change of the active version (approve, restore) before it reads the active
-- version, for the length of the transaction: changes take turns, and each reads what the one
-- before it committed. A row lock on the active version would not do: under READ COMMITTED the
-- waiter wakes to find that row retired and does not see the version that replaced it.
SELECT pg_advisory_xact_lock(hashtextextended('policy_active', 0))

-- name: policy_list
SELECT id, state, based_on, note, proposed_by, proposed_at, approved_by, approved_at,
       diff::text AS diff
FROM policy_versions ORDER BY id DESC LIMIT $1

-- name: policy_propose
-- $1 profile, $2 based on, $3 diff, $4 note, $5 proposer
INSERT INTO policy_versions (profile, state, based_on, diff, note, proposed_by)
VALUES ($1::jsonb, 'proposed', $2, $3::jsonb, $4, $5)
RETURNING id

-- name: policy_retire
UPDATE policy_versions SET state = 'retired' WHERE id = $1::bigint AND state = 'active'

-- name: policy_activate
-- $1 id, $2 approver, $3 diff against the version it replaces
UPDATE policy_versions
SET state = 'active', approved_by = $2, approved_at = now(), diff = $3::jsonb
WHERE id = $1::bigint AND state = 'proposed'

-- name: policy_restore
-- A new active version carrying an earlier version's profile. $1 profile, $2 based on, $3 diff,
-- $4 note, $5 actor
INSERT INTO policy_versions (profile, state, based_on, diff, note, proposed_by, approved_by, approved_at)
VALUES ($1::jsonb, 'active', $2, $3::jsonb, $4, $5 || ' (restore)', $5, now())
RETURNING id

-- name: stops_engaged
SELECT scope, reason, changed_by, changed_at FROM emergency_stops WHERE engaged ORDER BY scope

-- name: stop_set
-- $1 scope, $2 engaged, $3 reason, $4 actor
INSERT INTO emergency_stops (scope, engaged, reason, changed_by) VALUES ($1, $2, $3, $4)
ON CONFLICT (scope) DO UPDATE
SET engaged = EXCLUDED.engaged, reason = EXCLUDED.reason, changed_by = EXCLUDED.changed_by,
    changed_at = now()

-- name: toggles_get
SELECT name, enabled FROM toggles

-- name: toggle_set
INSERT INTO toggles (name, enabled, changed_by) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE
SET enabled = EXCLUDED.enabled, changed_by = EXCLUDED.changed_by, changed_at = now()

-- name: control_event
INSERT INTO control_events (control, value, reason, actor) VALUES ($1, $2, $3, $4)

-- name: asset_lock
-- Two deciders for one bay or door queue here: the check and the action's creation are one step.
SELECT pg_advisory_xact_lock(hashtextextended('asset:' || $1, 0))

-- name: asset_recent
-- Physical actions on a device in the last hour that were not called off, and how long ago the
-- device was last acted on: measured from when an action started executing, and an action still
-- waiting to start (for a worker, or for its customer's YES) counts as happening now, since it
-- may run at any moment. $1 device, $2 now (NULL: the database's)
-- Each part reads an index range that does not grow with history (migration 0021): the starts of
-- the last hour, the newest start, and the actions not started (an escalated one that never
-- started was called off).
WITH clock AS (SELECT coalesce($2::timestamptz, now()) AS t)
SELECT (SELECT count(*) FROM actions
        WHERE target ->> 'device_id' = $1 AND started_at > clock.t - interval '1 hour'
          AND kind IN ('reset_trackman', 'reboot_pc', 'unlock_door')
          AND state NOT IN ('cancelled', 'rejected'))
     + (SELECT count(*) FROM actions
        WHERE target ->> 'device_id' = $1 AND started_at IS NULL
          AND state NOT IN ('cancelled', 'rejected', 'escalated')
          AND kind IN ('reset_trackman', 'reboot_pc', 'unlock_door')
          AND created_at > clock.t - interval '1 hour') AS last_hour,
       extract(epoch FROM clock.t - greatest(
         (SELECT max(started_at) FROM actions
          WHERE target ->> 'device_id' = $1 AND started_at IS NOT NULL
            AND kind IN ('reset_trackman', 'reboot_pc', 'unlock_door')
            AND state NOT IN ('cancelled', 'rejected')),
         CASE WHEN EXISTS (SELECT 1 FROM actions
                           WHERE target ->> 'device_id' = $1 AND started_at IS NULL
                             AND state IN ('routed', 'awaiting_confirmation', 'confirmed')
                             AND kind IN ('reset_trackman', 'reboot_pc', 'unlock_door'))
              THEN clock.t END))::bigint AS since_last
FROM clock

-- name: booking_for_customer
-- The customer's booking nearest to now at this location (one that has not ended long ago).
-- $1 location, $2 phone, $3 now
SELECT id, bay, start_at, end_at, customer_flagged FROM bookings
WHERE location = $1 AND customer_phone = $2
  AND end_at > coalesce($3::timestamptz, now()) - interval '6 hours'
  AND start_at < coalesce($3::timestamptz, now()) + interval '1 day'
ORDER BY abs(extract(epoch FROM start_at - coalesce($3::timestamptz, now())))
LIMIT 1

-- name: booking_unlocks
-- Unlocks for a booking that were not called off, and whether the latest one failed. One that
-- went to a human before it started (refused at the last moment, its job dead) opened nothing.
SELECT count(*) AS n,
       coalesce((array_agg(result ORDER BY id DESC))[1] = 'failed', false) AS last_failed
FROM actions
WHERE kind = 'unlock_door' AND booking_id = $1 AND state NOT IN ('cancelled', 'rejected')
  AND NOT (state = 'escalated' AND started_at IS NULL)

-- name: thread_auto_replies
SELECT count(*) AS n FROM actions
WHERE thread_id = $1 AND kind = 'send_message' AND triggered_by IN ('router', 'chain')

-- name: tokens_used
-- $1 location, $2 today (the location's date)
SELECT coalesce(sum(tokens) FILTER (WHERE day = $2::date), 0) AS today,
       coalesce(sum(tokens) FILTER (WHERE day >= date_trunc('month', $2::date)), 0) AS month
FROM token_usage WHERE location = $1

-- name: suggestion_insert
-- $1 thread, $2 kind, $3 target, $4 params, $5 reason, $6 decision, $7 booking, $8 expires at
INSERT INTO suggestions (thread_id, kind, target, params, reason, decision, booking_id, expires_at)
VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6::jsonb, $7, $8::timestamptz)
RETURNING id

-- name: suggestion_lock
SELECT id, thread_id, kind, target::text AS target, params::text AS params, reason, booking_id, state,
       expires_at
FROM suggestions WHERE id = $1 FOR UPDATE

-- name: suggestion_decide
UPDATE suggestions SET state = $2, decided_by = $3, decided_at = now(), action_id = $4
WHERE id = $1 AND state = 'pending'

-- name: actions_open_physical
-- Physical actions not yet started, whoever asked for them, for the emergency stop to call off;
-- those an admin started with an explicit override of the stop are left to run.
SELECT a.id, a.thread_id, a.state, a.kind, a.target ->> 'location' AS location
FROM actions a
WHERE a.state IN ('routed', 'awaiting_confirmation', 'confirmed')
  AND a.kind IN ('reset_trackman', 'reboot_pc', 'unlock_door')
  AND NOT (a.params ? 'stop_override')
ORDER BY a.thread_id NULLS FIRST, a.id

-- name: booking_upsert
-- $1 id, $2 location, $3 bay, $4 phone, $5 start, $6 end, $7 flagged
INSERT INTO bookings (id, location, bay, customer_phone, start_at, end_at, customer_flagged)
VALUES ($1, $2, $3, $4, $5::timestamptz, $6::timestamptz, $7)
ON CONFLICT (id) DO UPDATE
SET location = EXCLUDED.location, bay = EXCLUDED.bay, customer_phone = EXCLUDED.customer_phone,
    start_at = EXCLUDED.start_at, end_at = EXCLUDED.end_at,
    customer_flagged = EXCLUDED.customer_flagged
RETURNING (xmax = 0) AS created

-- name: policy_mark_rejected
UPDATE policy_versions SET state = 'rejected' WHERE id = $1::bigint AND state = 'proposed'

-- name: decisions_since
-- Every routing decision since $1, oldest first, as its history row recorded it (a thread routed
-- twice has two), with what replay needs.
SELECT t.id, t.location, (tr.data -> 'intent')::text AS intent,
       (tr.data -> 'decision')::text AS decision, tr.at AS decided_at
FROM transitions tr JOIN threads t ON t.id = tr.entity_id
WHERE tr.entity = 'thread' AND tr.event = 'routed' AND tr.at >= $1::timestamptz
  AND tr.data ? 'decision'
ORDER BY tr.id

-- name: suggestions_list
-- $1 pending | expired (pending, but past its expiry: it can only be rejected) | approved |
-- rejected, $2 limit, $3 now
SELECT id, thread_id, kind, target::text AS target, params ->> 'text' AS text, reason,
       CASE WHEN state = 'pending' AND expires_at <= coalesce($3::timestamptz, now()) THEN 'expired'
            ELSE state END AS state,
       decided_by, action_id, created_at, expires_at
FROM suggestions
WHERE CASE WHEN $1 = 'pending' THEN state = 'pending' AND expires_at > coalesce($3::timestamptz, now())
           WHEN $1 = 'expired' THEN state = 'pending' AND expires_at <= coalesce($3::timestamptz, now())
           ELSE state = $1 END
ORDER BY id LIMIT $2

-- name: bookings_between
SELECT id, location, bay, customer_phone, start_at, end_at, customer_flagged FROM bookings
WHERE location = $1 AND end_at > $2::timestamptz AND start_at < $3::timestamptz
ORDER BY start_at, id LIMIT $4

-- name: asset_last_start
-- Seconds since another physical action on a device first started executing: the cooldown is
-- measured between executions, not decisions. $1 device, $2 the action to leave out, $3 now
SELECT extract(epoch FROM coalesce($3::timestamptz, now()) - max(started_at))::bigint AS since_last
FROM actions
WHERE target ->> 'device_id' = $1 AND started_at IS NOT NULL AND id <> $2
  AND kind IN ('reset_trackman', 'reboot_pc', 'unlock_door')

-- name: booking_get
SELECT id, bay, start_at, end_at, customer_flagged FROM bookings WHERE id = $1

-- name: booking_unlocks_started
-- Other unlocks for a booking that reached the door and did not fail. $1 booking, $2 action
SELECT count(*) AS n FROM actions
WHERE kind = 'unlock_door' AND booking_id = $1 AND id <> $2 AND started_at IS NOT NULL
  AND result IS DISTINCT FROM 'failed'
