-- Changes to the knowledge store go through proposals (workflows/knowledge_review.h,
-- docs/knowledge.md): a person's or the reviewer model's, each dry-run over past threads, then
-- approved or rejected by a human who is not its author. Approval and restore make new versions;
-- nothing is ever deactivated, and every step is a row of knowledge_events.

CREATE TABLE knowledge_proposals (
  id               bigserial   PRIMARY KEY,
  document_id      text        NOT NULL REFERENCES knowledge_documents (id),
  -- The active version when it was made: approval applies it only while that is still active.
  base_version     integer     NOT NULL,
  state            text        NOT NULL DEFAULT 'open'
                               CHECK (state IN ('open', 'approved', 'rejected')),
  author           text        NOT NULL CHECK (author <> ''),  -- operator:<name> | reviewer:<model>
  author_kind      text        NOT NULL CHECK (author_kind IN ('human', 'model')),
  content          text        NOT NULL,  -- the proposed document, canonical (knowledge.h)
  diff             text        NOT NULL,  -- against the base version, line by line
  reasoning        text        NOT NULL CHECK (char_length(reasoning) BETWEEN 1 AND 4000),
  case_ids         bigint[]    NOT NULL DEFAULT '{}',
  replay           jsonb,      -- the dry run: {replayed, touched, changed: [...]}
  replayed_at      timestamptz,
  decided_by       text,
  decided_at       timestamptz,
  decision_note    text,
  approved_version integer,
  created_at       timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (document_id, base_version) REFERENCES knowledge_versions (document_id, version),
  CONSTRAINT knowledge_proposals_decided CHECK ((state = 'open') = (decided_by IS NULL)),
  CONSTRAINT knowledge_proposals_approved CHECK ((state = 'approved') = (approved_version IS NOT NULL)),
  -- A human decides: a model's name is never a decider.
  CONSTRAINT knowledge_proposals_human_decides CHECK (decided_by IS NULL OR decided_by NOT LIKE 'reviewer:%'),
  CONSTRAINT knowledge_proposals_not_own CHECK (decided_by IS NULL OR state <> 'approved' OR decided_by <> author)
);
CREATE INDEX knowledge_proposals_open_idx ON knowledge_proposals (document_id) WHERE state = 'open';
CREATE INDEX knowledge_proposals_state_idx ON knowledge_proposals (state, id);

-- Which proposal a version came from (source approval), and who approved it.
ALTER TABLE knowledge_versions
  ADD COLUMN proposal_id bigint REFERENCES knowledge_proposals (id),
  ADD COLUMN approved_by text,
  ADD CONSTRAINT knowledge_versions_approval CHECK ((source = 'approval') = (proposal_id IS NOT NULL));

-- A case the reviewer read: the proposal it led to, if any.
ALTER TABLE cases ADD COLUMN proposal_id bigint REFERENCES knowledge_proposals (id);

-- Two documents that answer the same question differently (a price that differs between entries),
-- as the reviewer flagged them. One open flag per pair.
CREATE TABLE knowledge_conflicts (
  id          bigserial   PRIMARY KEY,
  documents   text[]      NOT NULL CHECK (cardinality(documents) = 2 AND
                                       documents[1] COLLATE "C" < documents[2] COLLATE "C"),
  reason      text        NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 2000),
  found_by    text        NOT NULL,
  state       text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
  resolved_by text,
  resolved_at timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT knowledge_conflicts_resolved CHECK ((state = 'resolved') = (resolved_by IS NOT NULL))
);
CREATE UNIQUE INDEX knowledge_conflicts_open_idx ON knowledge_conflicts (documents) WHERE state = 'open';

-- Every step, append-only: proposed, replayed, approved, rejected, restored, conflict (flagged),
-- conflict_resolved.
CREATE TABLE knowledge_events (
  id           bigserial   PRIMARY KEY,
  document_id  text        NOT NULL,
  event        text        NOT NULL CHECK (event IN ('proposed', 'replayed', 'approved', 'rejected',
                                                     'restored', 'conflict', 'conflict_resolved')),
  proposal_id  bigint      REFERENCES knowledge_proposals (id),
  version      integer,
  actor        text        NOT NULL,
  note         text,
  at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX knowledge_events_document_idx ON knowledge_events (document_id, id);
CREATE TRIGGER knowledge_events_no_update BEFORE UPDATE OR DELETE ON knowledge_events
  FOR EACH ROW EXECUTE FUNCTION knowledge_versions_append_only();

-- Each run of the reviewer: what it read, what it cost, what came of it. The day's calls and
-- tokens are summed from here for the caps. A run is 'running' from the moment it reserves its
-- call (under the caps, counting the whole max_tokens of a call not yet answered) until it ends;
-- one at a time.
CREATE TABLE reviewer_runs (
  id          bigserial   PRIMARY KEY,
  day         date        NOT NULL,
  outcome     text        NOT NULL CHECK (outcome IN ('running', 'ok', 'nothing_new', 'unavailable',
                                                      'over_budget', 'garbage')),
  called      boolean     NOT NULL,  -- the model was asked
  model       text        NOT NULL,
  cases       integer     NOT NULL DEFAULT 0,
  proposals   integer     NOT NULL DEFAULT 0,
  conflicts   integer     NOT NULL DEFAULT 0,
  tokens_in   bigint      NOT NULL DEFAULT 0,
  tokens_out  bigint      NOT NULL DEFAULT 0,
  latency_ms  integer,
  detail      text,
  response    text,       -- what it answered (cut at 8 kB), kept for garbage especially
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reviewer_runs_day_idx ON reviewer_runs (day);
CREATE UNIQUE INDEX reviewer_runs_one_running ON reviewer_runs ((true)) WHERE outcome = 'running';

-- Improvement is degraded (the reviewer down, over budget, or answering garbage): one open row,
-- so operators are told once when it opens and once when it closes.
CREATE TABLE reviewer_outages (
  id          bigserial   PRIMARY KEY,
  reason      text        NOT NULL,
  started_at  timestamptz NOT NULL DEFAULT now(),
  ended_at    timestamptz,
  deferrals   integer     NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX reviewer_outages_one_open ON reviewer_outages ((true)) WHERE ended_at IS NULL;
