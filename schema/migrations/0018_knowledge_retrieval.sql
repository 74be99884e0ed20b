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

-- With the location in the same index, a text's candidates are those of its location from the
-- start: for a long text 408 rows read instead of 979, 3.4 ms instead of 4.4 for the query. The
-- query's other branches keep the location out of their index conditions (the planner otherwise
-- read every entry of the location from this index to AND it with theirs, ~0.4 ms each).
-- fastupdate off, here and on 0014's indexes: knowledge is written by imports and approvals and
-- read on every consultation. With it on, the entries of an import wait in each index's pending
-- list, which every search reads through in full, until a vacuum merges them.
CREATE INDEX knowledge_versions_head_search_idx ON knowledge_versions
  USING gin (locations, head_search) WITH (fastupdate = off);
ALTER INDEX knowledge_versions_search_idx SET (fastupdate = off);
ALTER INDEX knowledge_versions_match_idx SET (fastupdate = off);
SELECT gin_clean_pending_list('knowledge_versions_search_idx'),
       gin_clean_pending_list('knowledge_versions_match_idx');
