-- OperatorGPT (workflows/flow_consult.cpp): every model call is a row; token budgets are reserved
-- before a call and settled after; answers are cached; an outage is a row of its own, so operators
-- hear of it once.

-- A routing reserves its estimate here before it calls, under the row's lock, and settles it with
-- the real usage after: concurrent routings at a budget's edge take turns and cannot overshoot.
ALTER TABLE token_usage
  ADD COLUMN reserved bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0);

CREATE TABLE llm_calls (
  id                 bigserial   PRIMARY KEY,
  thread_id          bigint      NOT NULL REFERENCES threads (id),
  location           text        NOT NULL,
  purpose            text        NOT NULL DEFAULT 'route',
  model              text        NOT NULL,
  tier               text        NOT NULL CHECK (tier IN ('cheap', 'strong')),
  prompt_version     text        NOT NULL,
  prompt_hash        text        NOT NULL,
  knowledge_version  text        NOT NULL,
  cache_key          text        NOT NULL,
  last_message_id    bigint      NOT NULL,  -- the newest text the model was shown
  state              text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
  -- ok: an intent; cache_hit: an earlier call's intent; the others: no intent (see the client).
  outcome            text        CHECK (outcome IN ('ok', 'cache_hit', 'timeout', 'unavailable',
                                   'rate_limited', 'quota', 'refused', 'malformed', 'bad_request',
                                   'abandoned', 'superseded')),
  guard              text,       -- why a drafted reply was not sent (figures not in the knowledge)
  reserved_tokens    bigint      NOT NULL DEFAULT 0 CHECK (reserved_tokens >= 0),
  budget_day         date,       -- the token_usage row the reservation sits on
  tokens_in          bigint      NOT NULL DEFAULT 0 CHECK (tokens_in >= 0),
  tokens_out         bigint      NOT NULL DEFAULT 0 CHECK (tokens_out >= 0),
  cost_usd           numeric(14, 6) NOT NULL DEFAULT 0,
  latency_ms         integer,
  attempts           integer     NOT NULL DEFAULT 0,
  http_status        integer,
  request_id         text,
  cache_hit          boolean     NOT NULL DEFAULT false,
  request            jsonb       NOT NULL,  -- what the model saw: {system, user}
  response           jsonb,                 -- what it said: the intent, as it answered it
  error              text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  finished_at        timestamptz,
  CONSTRAINT llm_calls_done CHECK ((state = 'done') = (outcome IS NOT NULL))
);
CREATE INDEX llm_calls_thread_idx ON llm_calls (thread_id, id);
CREATE INDEX llm_calls_location_idx ON llm_calls (location, created_at);
CREATE INDEX llm_calls_created_idx ON llm_calls (created_at);  -- the month's metrics
CREATE INDEX llm_calls_pending_idx ON llm_calls (thread_id) WHERE state = 'pending';

-- Answers to repeated questions: only answers (action "answer"), never decisions to act, keyed on
-- everything that shapes them (workflows/llm_router.h CacheKey).
CREATE TABLE llm_cache (
  key             text        PRIMARY KEY,
  intent          jsonb       NOT NULL,
  model           text        NOT NULL,
  source_call_id  bigint      NOT NULL REFERENCES llm_calls (id),
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  hits            bigint      NOT NULL DEFAULT 0,
  last_hit_at     timestamptz
);
CREATE INDEX llm_cache_expires_idx ON llm_cache (expires_at);

-- The endpoint is down: one open row at a time; operators are told when it opens and when it
-- closes. Between probes, unsure texts go to a human without a call.
CREATE TABLE llm_outages (
  id             bigserial   PRIMARY KEY,
  started_at     timestamptz NOT NULL DEFAULT now(),
  ended_at       timestamptz,
  reason         text        NOT NULL,
  last_probe_at  timestamptz NOT NULL DEFAULT now(),
  calls_failed   bigint      NOT NULL DEFAULT 1,
  texts_escalated bigint     NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX llm_outages_one_open ON llm_outages ((true)) WHERE ended_at IS NULL;
