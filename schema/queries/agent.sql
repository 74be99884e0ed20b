-- Bay agents (workflows/agent.h). Their commands are ordinary jobs in the queue "agent.<device>".

-- name: agent_heartbeat
-- $1 device, $2 tps_version, $3 tps_running, $4 radar_reachable, $5 tps_started_at, $6 booted_at,
-- $7 now (NULL: the database's)
INSERT INTO agent_devices (device_id, tps_version, tps_running, radar_reachable, tps_started_at,
                           booted_at, last_seen_at)
VALUES ($1, $2, $3, $4, $5::timestamptz, $6::timestamptz, coalesce($7::timestamptz, now()))
ON CONFLICT (device_id) DO UPDATE
SET tps_version = EXCLUDED.tps_version, tps_running = EXCLUDED.tps_running,
    radar_reachable = EXCLUDED.radar_reachable, tps_started_at = EXCLUDED.tps_started_at,
    booted_at = EXCLUDED.booted_at, last_seen_at = EXCLUDED.last_seen_at

-- name: agent_device
SELECT tps_running, tps_started_at, booted_at, last_seen_at FROM agent_devices WHERE device_id = $1

-- name: agent_claimed_command
-- The command `owner` (the device) holds, locked for its report.
SELECT id, attempt, args::text AS args FROM jobs
WHERE id = $1 AND lease_owner = $2 AND state = 'running'
FOR UPDATE

-- name: agent_report_insert
-- $1 command, $2 device, $3 action key, $4 command name, $5 success, $6 message, $7 now
INSERT INTO agent_reports (command_id, device_id, action_key, command, success, message, reported_at)
VALUES ($1, $2, $3, $4, $5, $6, coalesce($7::timestamptz, now()))
ON CONFLICT (command_id) DO NOTHING

-- name: agent_command_exists
-- Whether an action's command was ever queued (pending, claimed, dead) or reported.
SELECT 1 FROM jobs WHERE queue = $1 AND args ->> 'action_key' = $2
UNION ALL
SELECT 1 FROM agent_reports WHERE action_key = $2
LIMIT 1

-- name: agent_report_of_action
SELECT success, message, reported_at FROM agent_reports
WHERE action_key = $1 ORDER BY reported_at DESC LIMIT 1
