-- The fake facility (sim/fake_facility.h): the stand-in for the vendors that `clubos serve` and
-- `clubos worker` act on with `--facility fake`, and the tests' flows (the in-memory one of
-- `clubos bench flow --facility memory` needs no table). Every call
-- it takes is a row here, autocommitted on its own connection, so the count survives the worker
-- that made the call (crash tests count unlocks across processes); faults per device are rows a
-- test sets from another process. They are in the product schema because those are modes of the
-- product's own binary and its statements are prepared on every connection (schema/queries/
-- fake_facility.sql); with the vendors' adapters they stay empty.
--
-- IF NOT EXISTS: before this migration the fake created these tables itself, with exactly these
-- columns, in any database it was pointed at.
CREATE TABLE IF NOT EXISTS fake_facility_calls (
  id              bigserial   PRIMARY KEY,
  at              timestamptz NOT NULL DEFAULT clock_timestamp(),
  kind            text        NOT NULL,
  device          text        NOT NULL,
  idempotency_key text        NOT NULL,
  detail          text        NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS fake_facility_faults (
  device    text PRIMARY KEY,
  mode      text NOT NULL,
  remaining int  NOT NULL
);
