-- Workers route with a cached copy of the knowledge store's active versions
-- (workflows/knowledge_cache.h): a new document or a moved active version tells them on the jobs
-- channel, once per statement, when the transaction commits (workers/queue.h kKnowledgePayload).
-- Cases name the SOP version their action cited (schema/queries/feedback.sql), so 0015's NULL
-- sop_id / sop_version are filled from now on.
CREATE FUNCTION knowledge_documents_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('clubos_jobs', ':knowledge');
  RETURN NULL;
END $$;
CREATE TRIGGER knowledge_documents_notify AFTER INSERT OR UPDATE OF active_version
  ON knowledge_documents FOR EACH STATEMENT EXECUTE FUNCTION knowledge_documents_changed();
