-- Threads, messages, actions and their append-only history: the persisted state machines of
-- statemachines/thread_machine.h and statemachines/action_machine.h.

CREATE TABLE threads (
  id                bigserial   PRIMARY KEY,
  location          text        NOT NULL,
  customer_phone    text        NOT NULL,
  facility_line     text        NOT NULL,
  state             text        NOT NULL CHECK (state IN ('received', 'routed', 'awaiting_confirmation',
                                                          'executed', 'verified', 'escalated', 'closed')),
  version           integer     NOT NULL DEFAULT 1,
  priority          smallint    NOT NULL DEFAULT 100,
  -- the router's conclusion: {category, action, entities, confidence, router}
  intent            jsonb,
  -- the policy's decision: {outcome, reasons, policy_version}
  decision          jsonb,
  escalation_reason text,
  escalation        jsonb,
  claimed_by        text,
  last_routed_message_id bigint,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT threads_escalation_reason CHECK ((state = 'escalated') <= (escalation_reason IS NOT NULL))
);
-- At most one open thread per conversation: intake attaches to it or opens a new one.
CREATE UNIQUE INDEX threads_open_conversation_idx ON threads (customer_phone, facility_line)
  WHERE state <> 'closed';
CREATE INDEX threads_state_idx ON threads (state, id);

CREATE TABLE messages (
  id           bigserial   PRIMARY KEY,
  thread_id    bigint      NOT NULL REFERENCES threads (id),
  direction    text        NOT NULL CHECK (direction IN ('in', 'out')),
  external_id  text,
  from_phone   text        NOT NULL,
  to_phone     text        NOT NULL,
  body         text        NOT NULL CHECK (octet_length(body) <= 16384),
  received_at  timestamptz NOT NULL DEFAULT now()
);
-- A provider's message id is stored once: a redelivered webhook finds it and creates nothing.
CREATE UNIQUE INDEX messages_external_id_idx ON messages (external_id) WHERE external_id IS NOT NULL;
CREATE INDEX messages_thread_idx ON messages (thread_id, id);

CREATE TABLE actions (
  id               bigserial   PRIMARY KEY,
  thread_id        bigint      REFERENCES threads (id),
  kind             text        NOT NULL CHECK (kind IN ('reset_trackman', 'reboot_pc', 'unlock_door',
                                                        'send_message', 'notify_operator', 'create_ticket')),
  target           jsonb       NOT NULL,
  params           jsonb       NOT NULL DEFAULT '{}'::jsonb,
  triggered_by     text        NOT NULL CHECK (triggered_by ~ '^(router|chain|operator:.+)$'),
  reason           text        NOT NULL,
  booking_id       text,
  state            text        NOT NULL CHECK (state IN ('received', 'routed', 'awaiting_confirmation', 'executing',
                                                         'executed', 'verified', 'escalated', 'rejected', 'cancelled')),
  version          integer     NOT NULL DEFAULT 1,
  attempt          integer     NOT NULL DEFAULT 0,
  idempotency_key  text        NOT NULL UNIQUE,
  result           text        CHECK (result IN ('success', 'failed', 'inconclusive')),
  error            text,
  decision         jsonb,
  rollback_needed  boolean     NOT NULL DEFAULT false,
  human_override   boolean     NOT NULL DEFAULT false,
  confirm_expires_at timestamptz,
  executed_at      timestamptz,
  verify_deadline  timestamptz,
  baseline         jsonb,       -- the target's state before the call, for verification
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT actions_result_when_done CHECK ((state IN ('verified')) <= (result = 'success'))
);
CREATE INDEX actions_thread_idx ON actions (thread_id, id);
-- Cooldowns and "one unlock per booking" look up recent actions by target.
CREATE INDEX actions_target_idx ON actions (kind, (target ->> 'device_id'), created_at);

-- Append-only history of every transition of every machine.
CREATE TABLE transitions (
  id         bigserial   PRIMARY KEY,
  entity     text        NOT NULL CHECK (entity IN ('thread', 'action')),
  entity_id  bigint      NOT NULL,
  from_state text,
  event      text        NOT NULL,
  to_state   text        NOT NULL,
  actor      text        NOT NULL,
  reason     text,
  data       jsonb       NOT NULL DEFAULT '{}'::jsonb,
  at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transitions_entity_idx ON transitions (entity, entity_id, id);

CREATE FUNCTION transitions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'transitions is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER transitions_no_update BEFORE UPDATE OR DELETE ON transitions
  FOR EACH ROW EXECUTE FUNCTION transitions_append_only();
CREATE TRIGGER transitions_no_truncate BEFORE TRUNCATE ON transitions
  FOR EACH STATEMENT EXECUTE FUNCTION transitions_append_only();

-- The structured outcome record of every action (schema_version 1).
CREATE VIEW action_outcomes AS
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
       1                                      AS schema_version
FROM actions a;
