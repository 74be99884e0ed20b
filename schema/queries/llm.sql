-- OperatorGPT's books (migration 0013, workflows/flow_consult.cpp).

-- name: llm_call_in_flight
-- A call of this thread still pending ($1 thread): its started time.
SELECT id, created_at FROM llm_calls WHERE thread_id = $1 AND state = 'pending'
ORDER BY id LIMIT 1

-- name: llm_calls_abandon
-- Calls of a thread ($1) pending since before $2 (their worker died mid-call): settled at their
-- reservation, which the provider may well have billed. Returns what each released.
UPDATE llm_calls SET state = 'done', outcome = 'abandoned', finished_at = now(),
       error = 'the worker stopped before the answer was recorded'
WHERE thread_id = $1 AND state = 'pending' AND created_at < $2::timestamptz
RETURNING id, location, budget_day, reserved_tokens

-- name: llm_last_call_at
-- The last real call for a thread ($1): the per-thread rate limit counts these (cache hits cost
-- nothing and do not count).
SELECT max(created_at) AS at FROM llm_calls WHERE thread_id = $1 AND NOT cache_hit

-- name: llm_budget_lock
-- Today's budget row of a location ($1, $2 the location's date), created if new and locked: every
-- reservation of the location takes its turn here.
INSERT INTO token_usage (location, day) VALUES ($1, $2::date)
ON CONFLICT (location, day) DO UPDATE SET location = excluded.location
RETURNING tokens, reserved

-- name: llm_budget_use
-- Spent and reserved tokens of a location ($1) for the day ($2) and its month.
SELECT coalesce(sum(tokens + reserved) FILTER (WHERE day = $2::date), 0) AS today,
       coalesce(sum(tokens + reserved) FILTER (WHERE day >= date_trunc('month', $2::date)), 0) AS month
FROM token_usage WHERE location = $1 AND day >= date_trunc('month', $2::date) AND day <= $2::date

-- name: llm_budget_reserve
UPDATE token_usage SET reserved = reserved + $3 WHERE location = $1 AND day = $2::date

-- name: llm_budget_settle
-- $3 released (the reservation), $4 spent (the real usage).
UPDATE token_usage SET reserved = greatest(reserved - $3, 0), tokens = tokens + $4
WHERE location = $1 AND day = $2::date

-- name: llm_call_insert
-- $1 thread, $2 location, $3 model, $4 tier, $5 prompt version, $6 prompt hash, $7 knowledge
-- version, $8 cache key, $9 last message, $10 reserved, $11 budget day, $12 request
INSERT INTO llm_calls (thread_id, location, model, tier, prompt_version, prompt_hash,
                       knowledge_version, cache_key, last_message_id, reserved_tokens, budget_day,
                       request)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::date, $12::jsonb)
RETURNING id

-- name: llm_call_cached
-- A cache hit, recorded as a call that cost nothing. $1..$9 as llm_call_insert, $10 request,
-- $11 response
INSERT INTO llm_calls (thread_id, location, model, tier, prompt_version, prompt_hash,
                       knowledge_version, cache_key, last_message_id, state, outcome, cache_hit,
                       request, response, latency_ms, finished_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'done', 'cache_hit', true, $10::jsonb, $11::jsonb, 0,
        now())
RETURNING id

-- name: llm_call_get
SELECT id, thread_id, location, model, tier, knowledge_version, cache_key, last_message_id, state,
       reserved_tokens, budget_day::text AS budget_day, request::text AS request
FROM llm_calls WHERE id = $1

-- name: llm_call_finish
-- $1 id, $2 outcome, $3 tokens in, $4 tokens out, $5 cost, $6 latency ms, $7 attempts,
-- $8 http status, $9 request id, $10 response, $11 error, $12 guard
UPDATE llm_calls SET state = 'done', outcome = $2, tokens_in = $3, tokens_out = $4, cost_usd = $5,
       latency_ms = $6, attempts = $7, http_status = $8, request_id = $9, response = $10::jsonb,
       error = $11, guard = $12, finished_at = now()
WHERE id = $1 AND state = 'pending'
RETURNING id

-- name: llm_cache_get
-- A live entry ($1 key, $2 now), counted as a hit.
UPDATE llm_cache SET hits = hits + 1, last_hit_at = $2::timestamptz
WHERE key = $1 AND expires_at > $2::timestamptz
RETURNING intent::text AS intent, source_call_id

-- name: llm_cache_put
-- $1 key, $2 intent, $3 model, $4 source call, $5 expires at
INSERT INTO llm_cache (key, intent, model, source_call_id, expires_at)
VALUES ($1, $2::jsonb, $3, $4, $5::timestamptz)
ON CONFLICT (key) DO UPDATE SET intent = excluded.intent, model = excluded.model,
  source_call_id = excluded.source_call_id, created_at = now(), expires_at = excluded.expires_at

-- name: llm_cache_prune
DELETE FROM llm_cache WHERE expires_at < $1::timestamptz

-- name: llm_outage_open_get
SELECT id, reason, started_at, last_probe_at FROM llm_outages WHERE ended_at IS NULL FOR UPDATE

-- name: llm_outage_probe
UPDATE llm_outages SET last_probe_at = $2::timestamptz WHERE id = $1

-- name: llm_outage_escalated
UPDATE llm_outages SET texts_escalated = texts_escalated + 1 WHERE ended_at IS NULL

-- name: llm_outage_failed
-- A failed call ($1 reason, $2 now): opens the outage (true when this call opened it) or counts.
INSERT INTO llm_outages (reason, started_at, last_probe_at) VALUES ($1, $2::timestamptz, $2::timestamptz)
ON CONFLICT ((true)) WHERE ended_at IS NULL
DO UPDATE SET calls_failed = llm_outages.calls_failed + 1, last_probe_at = excluded.last_probe_at
RETURNING id, (xmax = 0) AS opened

-- name: llm_outage_close
-- A call succeeded ($1 now): the outage, if one was open, is over.
UPDATE llm_outages SET ended_at = $1::timestamptz WHERE ended_at IS NULL
RETURNING id, started_at, calls_failed, texts_escalated
