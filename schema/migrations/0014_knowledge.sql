-- The knowledge store (workflows/knowledge.h, docs/knowledge.md): SOPs and FAQ answers as
-- versioned documents. A version is never changed or deleted; a document's active version moves
-- only by an explicit act (an import, later an approval or a restore), never by itself.

-- Trigram similarity for retrieval. pg_trgm is a trusted extension (PostgreSQL 13+): the
-- database's owner creates it without being a superuser.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Trigger phrases in the router's language ("price*|pricing", "chest & pain*") as plain words for
-- full-text search and trigrams. array_to_string is only STABLE (for arrays of any type); on
-- text[] it is immutable, which a generated column needs.
CREATE FUNCTION knowledge_phrase_words(phrases text[]) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT translate(array_to_string(phrases, ' '), '*|&~_', '     ') $$;

CREATE TABLE knowledge_documents (
  id              text        PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9._-]*$'),
  -- Checked at commit: a document and its first version are written in one transaction.
  active_version  integer     NOT NULL CHECK (active_version >= 1),
  created_at      timestamptz NOT NULL DEFAULT now(),
  activated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE knowledge_versions (
  document_id  text        NOT NULL REFERENCES knowledge_documents (id),
  version      integer     NOT NULL CHECK (version >= 1),
  title        text        NOT NULL CHECK (title <> ''),
  category     text        NOT NULL CHECK (category IN ('tech', 'access', 'booking', 'faq', 'emergency')),
  -- Location ids, or exactly {all}.
  locations    text[]      NOT NULL CHECK (cardinality(locations) >= 1 AND
                                           (locations = '{all}' OR NOT 'all' = ANY (locations))),
  triggers     text[]      NOT NULL DEFAULT '{}',
  action       text        NOT NULL CHECK (action IN ('answer', 'reset_trackman', 'unlock_door', 'none')),
  fallback     text        NOT NULL CHECK (fallback IN ('escalate', 'none')),
  requires     text[]      NOT NULL DEFAULT '{}'
                           CHECK (requires <@ '{active_booking,bay_named,customer_confirmed}'),
  timeout_ms   integer     CHECK (timeout_ms > 0),
  body         text        NOT NULL CHECK (body <> ''),
  -- Who made it and how: import (from a file), approval (of a proposal), restore (of an old version).
  author       text        NOT NULL,
  source       text        NOT NULL CHECK (source IN ('import', 'approval', 'restore')),
  source_file  text,       -- the imported file's name
  reason       text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  -- What retrieval searches: the title and trigger words weigh most, the body less.
  search       tsvector    GENERATED ALWAYS AS (
                 setweight(to_tsvector('english', title), 'A') ||
                 setweight(to_tsvector('english', knowledge_phrase_words(triggers)), 'A') ||
                 setweight(to_tsvector('english', body), 'B')) STORED,
  -- What trigram similarity compares a customer's text with (typos, word forms the stemmer
  -- misses): the title and the trigger words, lower case.
  match_text   text        GENERATED ALWAYS AS (
                 lower(title || ' ' || knowledge_phrase_words(triggers))) STORED,
  PRIMARY KEY (document_id, version),
  CONSTRAINT knowledge_versions_import_file CHECK ((source = 'import') = (source_file IS NOT NULL))
);
CREATE INDEX knowledge_versions_search_idx ON knowledge_versions USING gin (search);
CREATE INDEX knowledge_versions_match_idx ON knowledge_versions USING gin (match_text gin_trgm_ops);

ALTER TABLE knowledge_documents
  ADD CONSTRAINT knowledge_documents_active_fk FOREIGN KEY (id, active_version)
  REFERENCES knowledge_versions (document_id, version) DEFERRABLE INITIALLY DEFERRED;

CREATE FUNCTION knowledge_versions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'knowledge_versions is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER knowledge_versions_no_update BEFORE UPDATE OR DELETE ON knowledge_versions
  FOR EACH ROW EXECUTE FUNCTION knowledge_versions_append_only();
CREATE TRIGGER knowledge_versions_no_truncate BEFORE TRUNCATE ON knowledge_versions
  FOR EACH STATEMENT EXECUTE FUNCTION knowledge_versions_append_only();
