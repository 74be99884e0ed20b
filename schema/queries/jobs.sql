-- Named statements of the job queue. Parameters arrive as text and are cast here.
-- Plans are generic (prepared statements), so a batch never joins a CTE to jobs: the planner,
-- not knowing the LIMIT, picked a hash join over a sequential scan of the whole table (5.4 ms for a
-- 100-job claim-and-ack on 20k rows); `id = ANY (ARRAY(...))` keeps it on the primary key (1.1 ms).
-- Every statement that takes `now` accepts NULL for the database clock (production) or an explicit
-- instant (tests with a fake clock). Every state-changing UPDATE compares-and-sets on the expected
-- state, attempt and lease owner; zero rows means the job is no longer ours (a lost race).

-- name: job_enqueue
-- $1 queue, $2 kind, $3 args, $4 priority, $5 run_at (NULL: now), $6 max_attempts,
-- $7 unique_key (NULL: none), $8 key mode ('keep' | 'replace'), $9 now
WITH clock AS (SELECT coalesce($9::timestamptz, now()) AS t)
INSERT INTO jobs AS j (queue, kind, args, priority, state, run_at, max_attempts, unique_key, created_at)
SELECT $1, $2, $3::jsonb, $4::smallint,
       CASE WHEN $5::timestamptz IS NULL OR $5::timestamptz <= clock.t THEN 'available' ELSE 'scheduled' END,
       coalesce($5::timestamptz, clock.t), $6::int, $7, clock.t
FROM clock
ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'available')
DO UPDATE SET
  run_at   = CASE WHEN $8 = 'replace' THEN EXCLUDED.run_at   ELSE j.run_at   END,
  state    = CASE WHEN $8 = 'replace' THEN EXCLUDED.state    ELSE j.state    END,
  args     = CASE WHEN $8 = 'replace' THEN EXCLUDED.args     ELSE j.args     END,
  priority = CASE WHEN $8 = 'replace' THEN EXCLUDED.priority ELSE j.priority END
RETURNING j.id, j.state, NOT (j.xmax = 0) AS existed

-- name: job_enqueue_many
-- $1 jsonb array of {queue, kind, args, priority, max_attempts}; all available now. $2 now
INSERT INTO jobs (queue, kind, args, priority, state, run_at, max_attempts, created_at)
SELECT coalesce(x.queue, 'default'), x.kind, coalesce(x.args, '{}'::jsonb), coalesce(x.priority, 100),
       'available', coalesce($2::timestamptz, now()), coalesce(x.max_attempts, 10),
       coalesce($2::timestamptz, now())
FROM jsonb_to_recordset($1::jsonb) AS x(queue text, kind text, args jsonb, priority smallint, max_attempts int)

-- name: job_complete_and_fetch
-- Claims the next batch of a queue, acknowledging finished jobs in the same statement: one round
-- trip and one commit for both (Oban Pro acks in the fetch's transaction for the same reason).
-- A claimed job gives up its unique key: new work with the key may queue behind it, and a retry
-- or hand-back of the claimed job can never collide with that newer job (graphile-worker does
-- the same).
-- $1 ids, $2 attempts (parallel arrays), $3 lease owner, $4 queue, $5 limit, $6 lease ms, $7 now
WITH done AS (
  DELETE FROM jobs j
  WHERE j.id = ANY ($1::bigint[]) AND j.attempt = ($2::int[])[array_position($1::bigint[], j.id)]
    AND j.lease_owner = $3 AND j.state = 'running'
  RETURNING j.id),
clock AS (SELECT coalesce($7::timestamptz, now()) AS t),
picked AS (
  SELECT id FROM jobs
  WHERE state = 'available' AND queue = $4
  ORDER BY priority, run_at, id
  LIMIT $5::int
  FOR UPDATE SKIP LOCKED),
fetched AS (
  UPDATE jobs j
  SET state = 'running', attempt = j.attempt + 1, lease_owner = $3,
      lease_expires_at = clock.t + $6::bigint * interval '1 millisecond', started_at = clock.t,
      unique_key = NULL, handler_started = false
  FROM clock
  WHERE j.id = ANY (ARRAY(SELECT id FROM picked))
  RETURNING j.id, j.queue, j.kind, j.args::text AS args, j.priority, j.attempt, j.max_attempts,
            j.run_at, j.created_at)
SELECT d.completed, f.*
FROM (SELECT count(*) AS completed FROM done) d LEFT JOIN fetched f ON true

-- name: job_complete
-- $1 ids, $2 attempts, $3 lease owner
DELETE FROM jobs j
WHERE j.id = ANY ($1::bigint[]) AND j.attempt = ($2::int[])[array_position($1::bigint[], j.id)]
  AND j.lease_owner = $3 AND j.state = 'running'

-- name: job_retry
-- Back to the queue $4 ms from now. $7 = 1 refunds the attempt (a deferral is not a failure).
-- $1 id, $2 attempt, $3 lease owner, $4 delay ms, $5 error, $6 now, $7 refund
UPDATE jobs
SET state = CASE WHEN $4::bigint <= 0 THEN 'available' ELSE 'scheduled' END,
    run_at = coalesce($6::timestamptz, now()) + greatest($4::bigint, 0) * interval '1 millisecond',
    last_error = coalesce($5, last_error), attempt = attempt - $7::int,
    lease_owner = NULL, lease_expires_at = NULL
WHERE id = $1 AND attempt = $2 AND lease_owner = $3 AND state = 'running'
RETURNING queue, state

-- name: job_kill
-- $1 id, $2 attempt, $3 lease owner, $4 error, $5 now
UPDATE jobs
SET state = 'dead', last_error = $4, finished_at = coalesce($5::timestamptz, now()),
    lease_owner = NULL, lease_expires_at = NULL
WHERE id = $1 AND attempt = $2 AND lease_owner = $3 AND state = 'running'
RETURNING id

-- name: job_mark_started
-- The handlers of these attempts have started: a lease that expires now costs the attempt.
-- $1 ids, $2 attempts (parallel arrays), $3 lease owner
UPDATE jobs j SET handler_started = true
WHERE j.id = ANY ($1::bigint[]) AND j.attempt = ($2::int[])[array_position($1::bigint[], j.id)]
  AND j.lease_owner = $3 AND j.state = 'running' AND NOT j.handler_started

-- name: job_heartbeat
-- Extends the leases of jobs this worker still runs; the ids missing from the answer were lost.
-- $1 ids, $2 lease owner, $3 lease ms, $4 now
UPDATE jobs
SET lease_expires_at = coalesce($4::timestamptz, now()) + $3::bigint * interval '1 millisecond'
WHERE id = ANY($1::bigint[]) AND lease_owner = $2 AND state = 'running'
RETURNING id

-- name: job_release
-- Hands jobs back untouched (graceful shutdown, or fetched but never started): the attempt is
-- refunded and the job keeps its place in line.
-- $1 ids, $2 lease owner
UPDATE jobs
SET state = 'available', attempt = attempt - 1, lease_owner = NULL, lease_expires_at = NULL
WHERE id = ANY($1::bigint[]) AND lease_owner = $2 AND state = 'running'
RETURNING queue

-- name: job_release_orphans
-- $1 lease owner, $2 ids the owner knows it holds
UPDATE jobs
SET state = 'available', attempt = attempt - 1, lease_owner = NULL, lease_expires_at = NULL
WHERE state = 'running' AND lease_owner = $1 AND NOT (id = ANY($2::bigint[]))
  AND NOT handler_started  -- an orphan never reached an executor; a started job is the rescue's
RETURNING queue

-- name: job_promote_due
-- $1 now, $2 limit
WITH due AS (
  SELECT id FROM jobs
  WHERE state = 'scheduled' AND run_at <= coalesce($1::timestamptz, now())
  ORDER BY run_at
  LIMIT $2::int
  FOR UPDATE SKIP LOCKED),
promoted AS (
  UPDATE jobs j SET state = 'available' WHERE j.id = ANY (ARRAY(SELECT id FROM due)) RETURNING j.queue)
SELECT queue, count(*) AS n FROM promoted GROUP BY queue

-- name: job_next_due
SELECT min(run_at) AS next_due FROM jobs WHERE state = 'scheduled'

-- name: job_rescue_retryable
-- Jobs whose lease ran out (worker killed, machine lost, job past its timeout) go back to the
-- front of their queue. An attempt whose handler started stays used: a job that kills its
-- workers dies. One that never started (it waited in a lost worker's local queue) is given
-- back by raising max_attempts, so attempt numbers only ever grow and (id, attempt, owner) never
-- names two claims; up to three times per job, because the mark is written shortly after the
-- start, so a handler that kills its worker at once looks unstarted and must still run out
-- (and never past the column's bound of 1,000).
-- $1 now, $2 limit
WITH expired AS (
  SELECT id, (NOT handler_started AND unstarted_rescues < 3 AND max_attempts < 1000)::int AS refund
  FROM jobs
  WHERE state = 'running' AND lease_expires_at < coalesce($1::timestamptz, now())
    AND (attempt < max_attempts
         OR (NOT handler_started AND unstarted_rescues < 3 AND max_attempts < 1000))
  ORDER BY lease_expires_at
  LIMIT $2::int
  FOR UPDATE SKIP LOCKED),
rescued AS (
  UPDATE jobs j
  SET state = 'available', lease_owner = NULL, lease_expires_at = NULL,
      max_attempts = j.max_attempts + e.refund, unstarted_rescues = j.unstarted_rescues + e.refund,
      last_error = CASE WHEN e.refund = 1
                     THEN 'lease expired before attempt ' || j.attempt
                          || ' started (worker lost): not counted'
                     ELSE 'lease expired after attempt ' || j.attempt
                          || ' (worker lost or job timed out)' END
  FROM expired e
  WHERE j.id = e.id
  RETURNING j.queue)
SELECT queue, count(*) AS n FROM rescued GROUP BY queue

-- name: job_rescue_final
-- Expired jobs on their last attempt; each dies with its dead hook in the same transaction.
-- $1 now, $2 limit
SELECT id, queue, kind, args::text AS args, priority, attempt, max_attempts, run_at, created_at,
       lease_owner
FROM jobs
WHERE state = 'running' AND lease_expires_at < coalesce($1::timestamptz, now())
  AND attempt >= max_attempts
  AND (handler_started OR unstarted_rescues >= 3 OR max_attempts >= 1000)
ORDER BY lease_expires_at
LIMIT $2::int
FOR UPDATE SKIP LOCKED

-- name: job_prune_dead
-- $1 now, $2 retention ms, $3 limit
DELETE FROM jobs
WHERE id IN (
  SELECT id FROM jobs
  WHERE state = 'dead'
    AND finished_at < coalesce($1::timestamptz, now()) - $2::bigint * interval '1 millisecond'
  ORDER BY finished_at
  LIMIT $3::int)

-- name: job_get
SELECT id, queue, kind, args::text AS args, priority, state, run_at, attempt, max_attempts,
       unique_key, lease_owner, lease_expires_at, last_error, created_at, started_at, finished_at
FROM jobs WHERE id = $1

-- name: periodic_claim
-- Claims one firing of a periodic schedule; returns a row only when it was due.
-- $1 name, $2 interval ms, $3 now
INSERT INTO periodic_jobs AS p (name, last_run_at)
VALUES ($1, coalesce($3::timestamptz, now()))
ON CONFLICT (name) DO UPDATE SET last_run_at = EXCLUDED.last_run_at
WHERE p.last_run_at <= EXCLUDED.last_run_at - $2::bigint * interval '1 millisecond'
RETURNING name

-- name: leader_try_acquire
SELECT pg_try_advisory_lock(727002) AS acquired

-- name: leader_release
SELECT pg_advisory_unlock(727002) AS released

-- name: leader_lease_acquire
-- Takes the maintenance lease for owner $1 for $2 ms when it is free or expired, or renews it when
-- $1 holds it; a row only when $1 holds it afterwards. $3: the caller holds the leader's advisory
-- lock, and then also takes a lease taken by a holder of the lock (whose session, then, is gone).
-- The database's clock decides expiry, so workers' clocks need not agree.
INSERT INTO leader_lease AS l (name, owner, expires_at, by_lock)
VALUES ('maintenance', $1, clock_timestamp() + $2::bigint * interval '1 millisecond', $3::boolean)
ON CONFLICT (name) DO UPDATE
SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at, by_lock = EXCLUDED.by_lock
WHERE l.owner = EXCLUDED.owner OR l.expires_at < clock_timestamp() OR (EXCLUDED.by_lock AND l.by_lock)
RETURNING owner

-- name: leader_lease_release
DELETE FROM leader_lease WHERE name = 'maintenance' AND owner = $1
