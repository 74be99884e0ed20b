-- Feedback on what ClubOS did on its own, and the cases a reviewer learns from (docs/cases.md).
--
-- 1. Feedback: an operator's verdict on an automated answer (a send_message action the automation
--    sent: triggered_by router or chain), helpful or not, with an optional correction; or a
--    customer's text on the same thread soon after an automated answer or action that says it did
--    not help ("still frozen"), recorded as unhelpful feedback from the customer. One row per
--    author per action: a second verdict replaces the first (version counts them), and every
--    verdict, the replaced ones too, stays in feedback_history.
CREATE TABLE feedback (
  id          bigserial   PRIMARY KEY,
  action_id   bigint      NOT NULL REFERENCES actions (id),
  thread_id   bigint      NOT NULL REFERENCES threads (id),
  source      text        NOT NULL CHECK (source IN ('operator', 'customer')),
  author      text        NOT NULL CHECK (author <> ''),  -- operator:<name> | customer
  helpful     boolean     NOT NULL,
  correction  text        CHECK (char_length(correction) BETWEEN 1 AND 2000),
  message_id  bigint      REFERENCES messages (id),  -- the customer's text that said so
  matched     text,                                  -- the router.not_helped phrase it matched
  version     integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (action_id, author),
  CONSTRAINT feedback_customer_author CHECK ((source = 'customer') = (author = 'customer')),
  CONSTRAINT feedback_customer_text CHECK ((source = 'customer') = (message_id IS NOT NULL)),
  -- A correction says what the answer should have been: it goes with "not helpful" only.
  CONSTRAINT feedback_correction_unhelpful CHECK (correction IS NULL OR NOT helpful)
);
CREATE INDEX feedback_thread_idx ON feedback (thread_id, id);

-- Append-only: who said what about which answer, and when, including what a later verdict
-- replaced. UPDATE and DELETE are refused; TRUNCATE (the table owner's, as a test or the seeded
-- simulation empties every table) is not.
CREATE TABLE feedback_history (
  id          bigserial   PRIMARY KEY,
  feedback_id bigint      NOT NULL REFERENCES feedback (id),
  action_id   bigint      NOT NULL REFERENCES actions (id),
  author      text        NOT NULL,
  helpful     boolean     NOT NULL,
  correction  text,
  message_id  bigint      REFERENCES messages (id),
  version     integer     NOT NULL,
  at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (feedback_id, version)
);

CREATE FUNCTION feedback_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'feedback_history is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER feedback_history_no_update BEFORE UPDATE OR DELETE ON feedback_history
  FOR EACH ROW EXECUTE FUNCTION feedback_history_append_only();

-- 2. Cases: what a reviewer looks at. Each unhelpful feedback is a case (origin feedback, one per
--    feedback row), and so is each action that failed, ended inconclusive or was flagged for a
--    rollback (origin action, one per action: the first of those outcomes names it). Written in
--    the transaction of the event that causes it, so no case is lost to a worker that dies, and
--    held to "exactly once" by the unique indexes below, whichever worker gets there first.
--    The route (the intent that chose the action), the customer's text it answered and the answer
--    are copied when the case is made: a thread routed again later does not rewrite its cases.
--    sop_id and sop_version are the SOP the answer or action followed; they stay NULL until the
--    knowledge store fills them. state: new, then grouped / proposed by the reviewer, then closed
--    (closed_reason withdrawn: the operator changed their verdict to helpful while it was new).
CREATE TABLE cases (
  id            bigserial   PRIMARY KEY,
  origin        text        NOT NULL CHECK (origin IN ('feedback', 'action')),
  state         text        NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'grouped', 'proposed', 'closed')),
  closed_reason text,
  thread_id     bigint      REFERENCES threads (id),  -- NULL: an operator's action of its own
  action_id     bigint      NOT NULL REFERENCES actions (id),
  message_id    bigint      REFERENCES messages (id),  -- the customer's text it answered
  feedback_id   bigint      UNIQUE REFERENCES feedback (id),
  outcome       text        CHECK (outcome IN ('failed', 'inconclusive', 'rollback_needed')),
  intent        jsonb,       -- the route: {category, action, confidence, router, ...}
  answer        text,        -- what ClubOS said (send_message), NULL for other kinds
  sop_id        text,
  sop_version   integer,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT cases_feedback_origin CHECK ((origin = 'feedback') = (feedback_id IS NOT NULL)),
  CONSTRAINT cases_action_origin CHECK ((origin = 'action') = (outcome IS NOT NULL)),
  CONSTRAINT cases_closed_reason CHECK ((state = 'closed') >= (closed_reason IS NOT NULL))
);
CREATE UNIQUE INDEX cases_action_once_idx ON cases (action_id) WHERE origin = 'action';
-- The reviewer reads new cases in order; the export reads them by time.
CREATE INDEX cases_state_idx ON cases (state, id);
CREATE INDEX cases_created_idx ON cases (created_at, id);
