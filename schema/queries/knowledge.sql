-- The knowledge store (migration 0014, workflows/knowledge_store.cpp).

-- name: knowledge_import_lock
-- One import at a time: two imports of the same folder would otherwise both see a document as
-- new and race for its first version.
SELECT pg_advisory_xact_lock(hashtext('clubos.knowledge_import'))

-- name: knowledge_active_all
-- Every document's active version, by id.
SELECT v.document_id AS id, v.version, v.title, v.category, v.locations::text AS locations,
       v.triggers::text AS triggers, v.action, v.fallback, v.requires::text AS requires,
       v.timeout_ms, v.body
FROM knowledge_documents d
JOIN knowledge_versions v ON v.document_id = d.id AND v.version = d.active_version
ORDER BY d.id

-- name: knowledge_document_lock
-- A document ($1) locked for a change of its active version: its active and newest version.
SELECT d.active_version, (SELECT max(version) FROM knowledge_versions WHERE document_id = d.id)
       AS newest
FROM knowledge_documents d WHERE d.id = $1 FOR UPDATE

-- name: knowledge_document_insert
-- A new document ($1) whose first version the same transaction writes (the foreign key to it is
-- checked at commit).
INSERT INTO knowledge_documents (id, active_version) VALUES ($1, 1)

-- name: knowledge_version_insert
-- $1 document, $2 version, $3 title, $4 category, $5 locations, $6 triggers, $7 action,
-- $8 fallback, $9 requires, $10 timeout_ms, $11 body, $12 author, $13 source, $14 source file,
-- $15 reason
INSERT INTO knowledge_versions (document_id, version, title, category, locations, triggers, action,
                                fallback, requires, timeout_ms, body, author, source, source_file,
                                reason)
VALUES ($1, $2::integer, $3, $4, $5::text[], $6::text[], $7, $8, $9::text[], $10::integer, $11, $12,
        $13, $14, $15)

-- name: knowledge_activate
-- Makes version $3 of document $1 the active one, if $2 still is (compare-and-set: zero rows is a
-- lost race).
UPDATE knowledge_documents SET active_version = $3::integer, activated_at = now()
WHERE id = $1 AND active_version = $2::integer

-- name: knowledge_retrieve
-- The active entries of location $1 most relevant to a customer's text $2 (lower case, accents
-- folded: workflows::NormalizeForMatching), best first, at most $3. One query, scored as:
-- - full-text: the text's words (English stems) OR-ed, ranked by frequency with the title and
--   trigger words (weight A) counting ten times the body (B); ts_rank's normalization 32 keeps it
--   in 0..1. An OR, not plainto_tsquery's AND: a customer's text has words no entry has.
-- - trigrams: word_similarity of the text within the title and trigger words, for typos and word
--   forms the stemmer does not join; 0..1, counted at 0.3.
-- Scoring every entry that shares a word with the text was what made it slow (at 5,000 entries
-- p50 67 / p99 212 ms): a customer's common words ("bay", "booking") are in most bodies, and
-- word_similarity costs 25-60 us a row. So at most 20 candidates are nominated through the
-- indexes, and only they are scored, each once:
-- 1. entries of the location whose title or trigger words share a stem with the text
--    (head_search, migration 0018, one index with the location), the best 20 by that part's rank
--    alone (a few words an entry: ~2.5 us), read in two parts: first those that share two stems
--    or more (`pairs`), and only when they are fewer than 20 those that share one. The same 20 as
--    one read of both, in the same order: every head word weighs A, and in ts_rank of an OR a
--    stem counts at least 1/1.645 of A when found once and less than A however often found, so
--    two stems outrank any one. It is the long texts that gain (the tail): "the trackman in bay 2
--    froze ..." shares one stem with 410 entries of the location ("bay", "left", "min"), two with
--    34, and ranking the 410 was 1.5 of its 2.5 ms of nominating;
-- 2. only when those are fewer than 20: entries whose title and trigger words are trigram-similar
--    to the text (<%; the index is read only then: ~1.5 ms for a long text);
-- 3. only when still fewer: entries that share words in the body alone, in the index's order.
-- With fewer than 20 entries that share anything with the text (the shipped knowledge) every one
-- is scored, as before; with thousands, words in the body alone, counted at a tenth, rarely place
-- an entry first. Measured in docs/performance.md; the ranking on tests/data/messages.json
-- (knowledge_pgtest): docs/knowledge.md.
WITH words AS MATERIALIZED (
  SELECT tsvector_to_array(to_tsvector('english', $2)) AS stems
),
q AS MATERIALIZED (
  SELECT (SELECT string_agg(quote_literal(l), ' | ') FROM unnest(w.stems) l)::tsquery AS terms,
         -- Two stems or more: s1 & (s2 | s3 | ...) | s2 & (s3 | ...) | ..., which the index and a
         -- row's check evaluate in time linear in the stems (all pairs, s1 & s2 | s1 & s3 | ...,
         -- would be quadratic). NULL for one stem or none: no row matches it.
         (SELECT string_agg(quote_literal(w.stems[i]) || ' & (' ||
                            (SELECT string_agg(quote_literal(l), ' | ')
                             FROM unnest(w.stems[i + 1:]) l) || ')', ' | ')
          FROM generate_subscripts(w.stems, 1) i
          WHERE i < cardinality(w.stems))::tsquery AS pairs,
         $2::text AS text, ARRAY['all', $1]::text[] AS at,
         -- A text without a word has no trigram, and the trigram index reads every row for it.
         cardinality(show_trgm($2)) > 0 AS trigrams
  FROM words w
),
candidates AS MATERIALIZED (
  SELECT c.document_id, c.version
  FROM (
    -- Ranked before the active-version check, which then stops at the 20th (a join first checked
    -- all of them: 650 for a long text).
    (SELECT h.document_id, h.version
     FROM (SELECT v.document_id, v.version
           FROM q, knowledge_versions v
           WHERE v.head_search @@ q.pairs AND v.locations && q.at
           ORDER BY ts_rank('{0.02, 0.05, 0.1, 1.0}', v.head_search, q.terms) DESC, v.document_id
           OFFSET 0) h
     WHERE EXISTS (SELECT FROM knowledge_documents d
                   WHERE d.id = h.document_id AND d.active_version = h.version)
     LIMIT 20)
    UNION ALL
    (SELECT h.document_id, h.version
     FROM (SELECT v.document_id, v.version
           FROM q, knowledge_versions v
           WHERE v.head_search @@ q.terms AND v.locations && q.at
             AND NOT coalesce(v.head_search @@ q.pairs, false)
           ORDER BY ts_rank('{0.02, 0.05, 0.1, 1.0}', v.head_search, q.terms) DESC, v.document_id
           OFFSET 0) h
     WHERE EXISTS (SELECT FROM knowledge_documents d
                   WHERE d.id = h.document_id AND d.active_version = h.version)
     LIMIT 20)
    UNION ALL
    -- coalesce: the location is a filter on the few rows these read, not a condition of the
    -- (locations, head_search) index, which would read every entry of the location for it.
    (SELECT v.document_id, v.version
     FROM q, knowledge_versions v
     JOIN knowledge_documents d ON d.id = v.document_id AND d.active_version = v.version
     WHERE q.trigrams AND q.text <% v.match_text AND coalesce(v.locations && q.at, false)
       AND NOT coalesce(v.head_search @@ q.terms, false)
     LIMIT 20)
    UNION ALL
    (SELECT v.document_id, v.version
     FROM q, knowledge_versions v
     JOIN knowledge_documents d ON d.id = v.document_id AND d.active_version = v.version
     WHERE v.search @@ q.terms AND coalesce(v.locations && q.at, false)
       AND NOT v.head_search @@ q.terms
     LIMIT 20)) c
  LIMIT 20
),
-- Each candidate's score computed once (inlined, the ORDER BY computed it again).
scored AS MATERIALIZED (
  SELECT v.document_id, v.version, v.title, v.category, v.action, v.triggers, v.body,
         coalesce(ts_rank('{0.02, 0.05, 0.1, 1.0}', v.search, q.terms, 32), 0) AS text_rank,
         word_similarity(q.text, v.match_text) AS trigram
  FROM q, (SELECT DISTINCT document_id, version FROM candidates) c
  JOIN knowledge_versions v USING (document_id, version)
)
SELECT document_id AS id, version, title, category, action, triggers::text AS triggers, body,
       text_rank, trigram
FROM scored
ORDER BY text_rank + 0.3 * trigram DESC, document_id
LIMIT $3::integer
