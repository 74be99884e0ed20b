-- Proposals to the knowledge store and the reviewer (migration 0017, workflows/knowledge_review.cpp).

-- name: knowledge_version_get
-- Version $2 of document $1, whole, with who made it and how.
SELECT v.document_id AS id, v.version, v.title, v.category, v.locations::text AS locations,
       v.triggers::text AS triggers, v.action, v.fallback, v.requires::text AS requires,
       v.timeout_ms, v.body, v.author, v.source, v.reason, v.proposal_id, v.approved_by,
       v.created_at
FROM knowledge_versions v WHERE v.document_id = $1 AND v.version = $2::integer

-- name: knowledge_versions_of
-- Every version of document $1, newest first.
SELECT v.document_id AS id, v.version, v.title, v.category, v.locations::text AS locations,
       v.triggers::text AS triggers, v.action, v.fallback, v.requires::text AS requires,
       v.timeout_ms, v.body, v.author, v.source, v.reason, v.proposal_id, v.approved_by,
       v.created_at, (v.version = d.active_version) AS active
FROM knowledge_versions v JOIN knowledge_documents d ON d.id = v.document_id
WHERE v.document_id = $1 ORDER BY v.version DESC

-- name: knowledge_version_write
-- $1 document, $2 version, $3 title, $4 category, $5 locations, $6 triggers, $7 action,
-- $8 fallback, $9 requires, $10 timeout_ms, $11 body, $12 author, $13 source (approval | restore),
-- $14 reason, $15 proposal, $16 approved_by
INSERT INTO knowledge_versions (document_id, version, title, category, locations, triggers, action,
                                fallback, requires, timeout_ms, body, author, source, reason,
                                proposal_id, approved_by)
VALUES ($1, $2::integer, $3, $4, $5::text[], $6::text[], $7, $8, $9::text[], $10::integer, $11, $12,
        $13, $14, $15::bigint, $16)

-- name: knowledge_search
-- The active documents whose id, title, trigger words or body hold $1 (any case; '' for all),
-- for location $2 ('' for any), by id; with their open proposals and conflicts counted.
SELECT v.document_id AS id, v.version, v.title, v.category, v.locations::text AS locations,
       v.action, d.activated_at,
       (SELECT count(*) FROM knowledge_proposals p
        WHERE p.document_id = v.document_id AND p.state = 'open') AS open_proposals,
       (SELECT count(*) FROM knowledge_conflicts c
        WHERE c.state = 'open' AND v.document_id = ANY (c.documents)) AS open_conflicts
FROM knowledge_documents d
JOIN knowledge_versions v ON v.document_id = d.id AND v.version = d.active_version
WHERE ($2 = '' OR v.locations && ARRAY['all', $2])
  AND ($1 = '' OR v.document_id ILIKE '%' || $1 || '%' OR v.title ILIKE '%' || $1 || '%'
       OR v.match_text ILIKE '%' || $1 || '%' OR v.body ILIKE '%' || $1 || '%')
ORDER BY v.document_id
LIMIT 500

-- name: knowledge_open_proposals_count
SELECT count(*) AS n FROM knowledge_proposals WHERE document_id = $1 AND state = 'open'

-- name: knowledge_proposal_insert
-- $1 document, $2 base version, $3 author, $4 author kind, $5 content, $6 diff, $7 reasoning,
-- $8 case ids ({1,2})
INSERT INTO knowledge_proposals (document_id, base_version, author, author_kind, content, diff,
                                 reasoning, case_ids)
VALUES ($1, $2::integer, $3, $4, $5, $6, $7, $8::bigint[])
RETURNING id

-- name: knowledge_proposal_cases_mark
-- The cases behind proposal $1 ($2: their ids) are now 'proposed', and say by which. Only cases
-- still waiting for the reviewer (new or grouped) move; returns those that did.
UPDATE cases SET state = 'proposed', proposal_id = $1::bigint, updated_at = now()
WHERE id = ANY ($2::bigint[]) AND state IN ('new', 'grouped')
RETURNING id

-- name: knowledge_proposal_get
-- $2: lock it (true) for a decision.
SELECT id, document_id, base_version, state, author, author_kind, content, diff, reasoning,
       case_ids::text AS case_ids, replay::text AS replay, replayed_at, decided_by, decided_at,
       decision_note, approved_version, created_at
FROM knowledge_proposals WHERE id = $1::bigint

-- name: knowledge_proposal_lock
SELECT id, document_id, base_version, state, author, author_kind, content, replay::text AS replay
FROM knowledge_proposals WHERE id = $1::bigint FOR UPDATE

-- name: knowledge_proposals_list
-- $1 open | approved | rejected ('' for every state), $2 document ('' for every one), newest first.
SELECT id, document_id, base_version, state, author, author_kind, reasoning,
       cardinality(case_ids) AS cases, replay::text AS replay, decided_by, decided_at,
       approved_version, created_at
FROM knowledge_proposals
WHERE ($1 = '' OR state = $1) AND ($2 = '' OR document_id = $2)
ORDER BY id DESC LIMIT $3::integer

-- name: knowledge_proposal_replayed
UPDATE knowledge_proposals SET replay = $2::jsonb, replayed_at = $3::timestamptz
WHERE id = $1::bigint AND state = 'open'
RETURNING document_id

-- name: knowledge_proposal_decide
-- $1 proposal, $2 approved | rejected, $3 by, $4 note, $5 the version approval made, $6 at
UPDATE knowledge_proposals
SET state = $2, decided_by = $3, decision_note = $4, approved_version = $5::integer,
    decided_at = $6::timestamptz
WHERE id = $1::bigint AND state = 'open'

-- name: knowledge_proposal_cases_close
-- The cases behind a decided proposal ($1) are closed with the reason $2.
UPDATE cases SET state = 'closed', closed_reason = $2, updated_at = now()
WHERE proposal_id = $1::bigint AND state = 'proposed'

-- name: knowledge_event_insert
-- $1 document, $2 event, $3 proposal, $4 version, $5 actor, $6 note, $7 at
INSERT INTO knowledge_events (document_id, event, proposal_id, version, actor, note, at)
VALUES ($1, $2, $3::bigint, $4::integer, $5, $6, $7::timestamptz)

-- name: knowledge_events_of
SELECT id, event, proposal_id, version, actor, note, at FROM knowledge_events
WHERE document_id = $1 ORDER BY id

-- name: knowledge_replay_decisions
-- What a proposal's dry run replays: the newest $2 routing decisions since $1, oldest first, with
-- the customer's texts each routed (the thread's inbound texts after its previous routing, which
-- may lie before $1, up to this one).
WITH routed AS (
  SELECT tr.id, tr.entity_id AS thread_id, tr.at,
         (SELECT max(p.at) FROM transitions p
          WHERE p.entity = 'thread' AND p.entity_id = tr.entity_id AND p.event = 'routed'
            AND p.id < tr.id) AS previous_at,
         (tr.data -> 'intent')::text AS intent, (tr.data -> 'decision')::text AS decision
  FROM transitions tr
  WHERE tr.entity = 'thread' AND tr.event = 'routed' AND tr.at >= $1::timestamptz
    AND tr.data ? 'decision'
  ORDER BY tr.id DESC
  LIMIT $2::integer
)
SELECT r.thread_id, t.location, r.at AS decided_at, r.intent, r.decision,
       coalesce((SELECT json_agg(m.body ORDER BY m.id)::text FROM messages m
                 WHERE m.thread_id = r.thread_id AND m.direction = 'in' AND m.received_at <= r.at
                   AND (r.previous_at IS NULL OR m.received_at > r.previous_at)), '[]') AS texts
FROM routed r JOIN threads t ON t.id = r.thread_id
ORDER BY r.id

-- name: knowledge_conflict_insert
-- A conflict the reviewer flagged ($1 the two documents, sorted; $2 reason; $3 found by), unless
-- that pair is flagged and open already. Returns the new row's id.
INSERT INTO knowledge_conflicts (documents, reason, found_by)
VALUES ($1::text[], $2, $3)
ON CONFLICT (documents) WHERE state = 'open' DO NOTHING
RETURNING id

-- name: knowledge_conflicts_list
-- $1 open | resolved ('' for both).
SELECT id, documents::text AS documents, reason, found_by, state, resolved_by, resolved_at,
       created_at
FROM knowledge_conflicts WHERE ($1 = '' OR state = $1) ORDER BY id DESC LIMIT 200

-- name: knowledge_conflict_resolve
UPDATE knowledge_conflicts SET state = 'resolved', resolved_by = $2, resolved_at = $3::timestamptz
WHERE id = $1::bigint AND state = 'open'
RETURNING documents::text AS documents

-- name: knowledge_conflict_get
SELECT id, state FROM knowledge_conflicts WHERE id = $1::bigint

-- name: reviewer_lock
-- One reviewer run reserves or ends its call at a time (the caps are read and written under it).
SELECT pg_advisory_xact_lock(hashtext('clubos.knowledge_reviewer'))

-- name: reviewer_lost_runs
-- A run still 'running' since before $1 (longer than its job may run) died with its worker: it is counted as
-- a call that answered nothing, and the next may run.
UPDATE reviewer_runs SET outcome = 'unavailable', detail = 'the run was lost with its worker'
WHERE outcome = 'running' AND at < $1::timestamptz

-- name: reviewer_today
-- The day $1's calls and tokens: answered calls as they cost, a call still running at the most it
-- may cost ($2 its max_tokens plus its prompt's estimate $3).
SELECT count(*) FILTER (WHERE called) AS calls,
       coalesce(sum(CASE WHEN outcome = 'running' THEN $2::bigint + $3::bigint
                         ELSE tokens_in + tokens_out END), 0) AS tokens,
       count(*) FILTER (WHERE outcome = 'running') AS running
FROM reviewer_runs WHERE day = $1::date

-- name: reviewer_run_insert
-- $1 day, $2 outcome, $3 called, $4 model, $5 cases, $6 detail, $7 at
INSERT INTO reviewer_runs (day, outcome, called, model, cases, detail, at)
VALUES ($1::date, $2, $3, $4, $5::integer, $6, $7::timestamptz)
RETURNING id

-- name: reviewer_run_end
-- $1 run, $2 outcome, $3 proposals, $4 conflicts, $5 tokens in, $6 tokens out, $7 latency ms,
-- $8 detail, $9 response
-- By id alone: a run another worker took for lost still ends with its outcome and what it cost.
UPDATE reviewer_runs
SET outcome = $2, proposals = $3::integer, conflicts = $4::integer, tokens_in = $5::bigint,
    tokens_out = $6::bigint, latency_ms = $7::integer, detail = $8, response = $9
WHERE id = $1::bigint

-- name: reviewer_run_tokens
-- What the model call of run $1 cost ($2 in, $3 out), counted at once: the day's budget sees it
-- while the run turns the answer into proposals.
UPDATE reviewer_runs SET tokens_in = $2::bigint, tokens_out = $3::bigint WHERE id = $1::bigint

-- name: reviewer_new_cases
-- The cases waiting for the reviewer, oldest first, at most $1: new ones about a document on file
-- that has fewer than $2 open proposals (the cap: the others wait), with the customer's text, the
-- answer and what the operator said.
SELECT c.id, c.origin, c.outcome, c.sop_id, c.sop_version, c.answer, coalesce(m.body, '') AS text,
       f.correction, a.kind AS action_kind, coalesce(th.location, '') AS location
FROM cases c
JOIN knowledge_documents d ON d.id = c.sop_id
JOIN actions a ON a.id = c.action_id
LEFT JOIN threads th ON th.id = c.thread_id
LEFT JOIN messages m ON m.id = c.message_id
LEFT JOIN feedback f ON f.id = c.feedback_id
WHERE c.state = 'new'
  AND (SELECT count(*) FROM knowledge_proposals p
       WHERE p.document_id = c.sop_id AND p.state = 'open') < $2::integer
ORDER BY c.id
LIMIT $1::integer

-- name: reviewer_outcomes
-- The outcome history of the SOPs given ($1): of the finished actions citing each since $2, how
-- many there were and how many did not work (escalated: failed, inconclusive or refused on the
-- way; or flagged for a rollback).
SELECT d.id AS sop_id,
       count(a.id) AS total,
       count(a.id) FILTER (WHERE a.state = 'escalated' OR a.rollback_needed) AS failed
FROM unnest($1::text[]) AS d(id)
LEFT JOIN actions a ON a.created_at >= $2::timestamptz AND a.state IN ('verified', 'escalated')
  AND position(('SOP ' || d.id || ' v') IN a.reason) > 0
GROUP BY d.id ORDER BY d.id

-- name: reviewer_cases_grouped
-- Cases the reviewer read that led to no proposal: grouped (read, nothing to change for now).
UPDATE cases SET state = 'grouped', updated_at = now()
WHERE id = ANY ($1::bigint[]) AND state = 'new'

-- name: reviewer_outage_open
-- Improvement is degraded ($1 why): opens the outage, or counts one more deferral of the open
-- one. `opened` says whether it opened now (operators are told only then) and `deferrals` how many
-- runs it has deferred (the backoff).
WITH opened AS (
  INSERT INTO reviewer_outages (reason) VALUES ($1)
  ON CONFLICT ((true)) WHERE ended_at IS NULL DO NOTHING
  RETURNING deferrals
), counted AS (
  UPDATE reviewer_outages SET deferrals = deferrals + 1, reason = $1
  WHERE ended_at IS NULL AND NOT EXISTS (SELECT 1 FROM opened)
  RETURNING deferrals
)
SELECT true AS opened, deferrals FROM opened
UNION ALL SELECT false, deferrals FROM counted

-- name: reviewer_outage_close
UPDATE reviewer_outages SET ended_at = $1::timestamptz WHERE ended_at IS NULL
RETURNING started_at, deferrals, reason

-- name: reviewer_runs_recent
SELECT id, day, outcome, called, model, cases, proposals, conflicts, tokens_in, tokens_out,
       latency_ms, detail, at
FROM reviewer_runs ORDER BY id DESC LIMIT $1::integer

-- name: cases_found
-- Which of the cases $1 exist, and the document each is about.
SELECT id, sop_id FROM cases WHERE id = ANY ($1::bigint[])

-- name: knowledge_proposal_correctors
-- Whether $2 corrected an answer behind one of proposal $1's cases: the words of a model's
-- proposal may be theirs, so they are its author too.
SELECT 1 AS corrected FROM knowledge_proposals p
JOIN cases c ON c.id = ANY (p.case_ids)
JOIN feedback f ON f.id = c.feedback_id
WHERE p.id = $1::bigint AND f.author = $2 AND f.correction IS NOT NULL
LIMIT 1

-- name: reviewer_outage_deferrals
SELECT deferrals FROM reviewer_outages WHERE ended_at IS NULL
