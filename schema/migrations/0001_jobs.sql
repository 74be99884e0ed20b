-- The durable job queue. Semantics: ../docs/architecture.md and design/state-machines.md.
--   scheduled --(run_at reached, promoted by the leader)--> available --(fetched)--> running
--   running --(completed)--> row deleted (the history of what happened lives in `transitions`)
--   running --(failed, attempts left | deferred)--> scheduled | available
--   running --(failed permanently | last attempt)--> dead (kept for inspection, pruned by retention)

CREATE TABLE jobs (
  id               bigserial PRIMARY KEY,
  queue            text        NOT NULL DEFAULT 'default' CHECK (queue ~ '^[a-z0-9_.-]{1,64}$'),
  kind             text        NOT NULL CHECK (kind ~ '^[a-z0-9_.:-]{1,64}$'),
  args             jsonb       NOT NULL DEFAULT '{}'::jsonb,
  priority         smallint    NOT NULL DEFAULT 100 CHECK (priority BETWEEN 0 AND 1000),
  state            text        NOT NULL CHECK (state IN ('scheduled', 'available', 'running', 'dead')),
  run_at           timestamptz NOT NULL DEFAULT now(),
  attempt          integer     NOT NULL DEFAULT 0,
  max_attempts     integer     NOT NULL DEFAULT 10 CHECK (max_attempts BETWEEN 1 AND 1000),
  unique_key       text,
  lease_owner      text,
  lease_expires_at timestamptz,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  CONSTRAINT jobs_attempt_bounds CHECK (attempt BETWEEN 0 AND max_attempts),
  CONSTRAINT jobs_lease_iff_running CHECK (
    (state = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
  CONSTRAINT jobs_args_size CHECK (octet_length(args::text) <= 1048576)
);

-- The dequeue: one queue, smaller priority first, then FIFO. Matches the fetch's ORDER BY exactly.
CREATE INDEX jobs_fetch_idx ON jobs (queue, priority, run_at, id) WHERE state = 'available';
-- Promotion of due timers and retries.
CREATE INDEX jobs_scheduled_idx ON jobs (run_at) WHERE state = 'scheduled';
-- Rescue of jobs whose worker died.
CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE state = 'running';
-- Pruning of dead jobs past retention.
CREATE INDEX jobs_dead_idx ON jobs (finished_at) WHERE state = 'dead';
-- One pending job per key: a second enqueue with the same key keeps or moves the pending one.
-- A running job no longer holds its key, so new work can queue behind it.
CREATE UNIQUE INDEX jobs_unique_key_idx ON jobs (unique_key)
  WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'available');

-- The hot table churns: vacuum it early and without throttling (a 1M backlog drained 2.6x
-- faster with aggressive per-table autovacuum here; see docs/performance.md).
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
                      autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0.02);

-- Periodic jobs fired by the leader: one row per schedule, so a new leader knows what is due.
CREATE TABLE periodic_jobs (
  name        text PRIMARY KEY,
  last_run_at timestamptz NOT NULL
);
