-- The vendors: what a call left behind to verify against, bay agents, and the outcome record.

-- What the vendor answered that verification reads later (an SMS's message id, an agent
-- command's id): kept with the action, so a worker that picks it up after a crash finds it.
ALTER TABLE actions ADD COLUMN external_ref jsonb;
-- Who flagged a rollback, why, and when.
ALTER TABLE actions ADD COLUMN rollback jsonb;

-- Bay agents (integrations.md §1.5): the latest heartbeat of each bay PC's agent. Commands are
-- jobs in the device's own queue ("agent.<device>"); this table is only what the agent said.
CREATE TABLE agent_devices (
  device_id        text        PRIMARY KEY,
  tps_version      text,
  tps_running      boolean     NOT NULL,
  radar_reachable  boolean     NOT NULL,
  tps_started_at   timestamptz,
  booted_at        timestamptz,
  last_seen_at     timestamptz NOT NULL
);

-- What an agent reported for a command, kept after the command's job is gone.
CREATE TABLE agent_reports (
  command_id   bigint      PRIMARY KEY,
  device_id    text        NOT NULL,
  action_key   text        NOT NULL,
  command      text        NOT NULL,
  success      boolean     NOT NULL,
  message      text        NOT NULL CHECK (octet_length(message) <= 4096),
  reported_at  timestamptz NOT NULL
);
CREATE INDEX agent_reports_action_idx ON agent_reports (action_key);

-- The outcome record, with what was added since schema_version 1 appended (CREATE OR REPLACE
-- VIEW may only add columns at the end): the door, the booking, the attempt count, the error.
CREATE OR REPLACE VIEW action_outcomes AS
SELECT a.id                                   AS action_id,
       a.kind                                 AS action,
       (a.target ->> 'bay')::int              AS bay,
       a.target ->> 'location'                AS location,
       a.result,
       a.reason                               AS followed_sop,
       a.triggered_by                         AS trigger_source,
       a.human_override,
       a.thread_id                            AS linked_thread,
       a.rollback_needed,
       a.state,
       a.updated_at                           AS "timestamp",
       1                                      AS schema_version,
       a.target ->> 'door'                    AS door,
       a.booking_id,
       a.attempt,
       a.error
FROM actions a;
