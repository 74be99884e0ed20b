-- Retrieval at thousands of entries (knowledge_retrieve in schema/queries/knowledge.sql,
-- docs/performance.md "Knowledge retrieval"). Over 0014's columns alone, a customer's common words
-- ("bay", "booking") matched most bodies and every match was scored: at 5,000 entries the query
-- took p50 67 / p99 212 ms. Now the title and trigger words nominate the candidates through an
-- index of their own, and only the best 20 are scored.

-- The title and trigger words alone (the weight-A part of `search`): what nominates candidates and
-- ranks them before they are scored. Small: a few words an entry, where `search` holds the body.
ALTER TABLE knowledge_versions ADD COLUMN head_search tsvector GENERATED ALWAYS AS (
  setweight(to_tsvector('english', title), 'A') ||
  setweight(to_tsvector('english', knowledge_phrase_words(triggers)), 'A')) STORED;

-- One column: a GIN index on (locations, head_search) read 60% fewer rows for a text, but the
-- planner then also used it for the location alone in the other branches (a bitmap of every
-- entry of the location, ~0.4 ms each), and the location is a filter on few rows anyway.
-- fastupdate off, here and on 0014's indexes: knowledge is written by imports and approvals and
-- read on every consultation. With it on, the entries of an import wait in each index's pending
-- list, which every search reads through in full, until a vacuum merges them.
CREATE INDEX knowledge_versions_head_search_idx ON knowledge_versions USING gin (head_search)
  WITH (fastupdate = off);
ALTER INDEX knowledge_versions_search_idx SET (fastupdate = off);
ALTER INDEX knowledge_versions_match_idx SET (fastupdate = off);
SELECT gin_clean_pending_list('knowledge_versions_search_idx'),
       gin_clean_pending_list('knowledge_versions_match_idx');
