-- The HTTP API: Idempotency-Key answers, and indexes for the operator's lists.

-- A POST that creates something (a message, an action) may carry an Idempotency-Key: the first
-- request's successful answer is kept here, in the transaction that holds the key while the work
-- is done, so a retry with the same key and body gets the same answer and creates nothing, and
-- the same key with another body is refused (422). Keys are scoped to the caller (the token's
-- principal) and kept for 24 hours (pruned by the API).
CREATE TABLE api_idempotency_keys (
  principal    text        NOT NULL,
  key          text        NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 255),
  request_hash text        NOT NULL,  -- of method, route and body
  status       integer     CHECK (status BETWEEN 200 AND 299),  -- NULL only inside the holding transaction
  response     text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (principal, key)
);
CREATE INDEX api_idempotency_keys_created_idx ON api_idempotency_keys (created_at);

-- GET /v1/threads?location=: newest first within a location.
CREATE INDEX threads_location_idx ON threads (location, id);
-- GET /v1/escalations: the escalated threads, whatever their number among all threads.
CREATE INDEX threads_escalated_idx ON threads (priority, id) WHERE state = 'escalated';
