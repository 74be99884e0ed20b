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
-- folded: workflows::NormalizeForMatching), best first, at most $3. One query, both indexes:
-- - full-text: the text's words (English stems) OR-ed, ranked by frequency with the title and
--   trigger words (weight A) counting ten times the body (B); ts_rank's normalization 32 keeps it
--   in 0..1. An OR, not plainto_tsquery's AND: a customer's text has words no entry has.
-- - trigrams: word_similarity of the text within the title and trigger words, for typos and word
--   forms the stemmer does not join; 0..1, counted at 0.3.
-- Measured on tests/data/messages.json's FAQ questions (knowledge_pgtest): docs/knowledge.md.
WITH q AS (
  SELECT (SELECT string_agg(quote_literal(l), ' | ')
          FROM unnest(tsvector_to_array(to_tsvector('english', $2))) l)::tsquery AS terms,
         $2::text AS text
)
SELECT v.document_id AS id, v.version, v.title, v.category, v.action, v.triggers::text AS triggers,
       v.body,
       coalesce(ts_rank('{0.02, 0.05, 0.1, 1.0}', v.search, q.terms, 32), 0) AS text_rank,
       word_similarity(q.text, v.match_text) AS trigram
FROM q, knowledge_documents d
JOIN knowledge_versions v ON v.document_id = d.id AND v.version = d.active_version
WHERE v.locations && ARRAY['all', $1]
  AND (v.search @@ q.terms OR q.text <% v.match_text)
ORDER BY coalesce(ts_rank('{0.02, 0.05, 0.1, 1.0}', v.search, q.terms, 32), 0)
         + 0.3 * word_similarity(q.text, v.match_text) DESC, v.document_id
LIMIT $3::integer
