-- Leadership that a pooler in transaction mode can carry (workers/runtime.cpp, docs/operations.md
-- "Behind PgBouncer"). On a direct connection the maintenance leader holds a session advisory
-- lock, which dies with its session: at once when the leader's process dies. Behind PgBouncer in
-- transaction mode a session is not the client's, so the leader holds this row instead (as River's
-- river_leader): taken when free or expired, renewed well before it expires, deleted when the
-- leader stops. A leader that dies without deleting it is replaced when its lease runs out.
-- Logged, so that a promoted standby knows who led.
CREATE TABLE leader_lease (
  name       text PRIMARY KEY,
  owner      text NOT NULL,
  expires_at timestamptz NOT NULL
);
