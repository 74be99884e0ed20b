-- Leadership that a pooler in transaction mode can carry (workers/runtime.cpp, docs/operations.md
-- "Connection poolers"). On a direct connection the maintenance leader holds a session advisory
-- lock, which dies with its session: at once when the leader's process dies. Behind PgBouncer in
-- transaction mode a session is not the client's, so a leader there holds this row instead (as
-- River's river_leader): taken when free or expired, renewed well before it expires, deleted when
-- the leader stops; one that dies without deleting it is replaced when its lease runs out.
-- Every leader holds the row, the advisory lock's too (`by_lock`): a process that leads by the
-- lock and one that leads by the row (a move to the pooler under way, serve direct and the
-- workers pooled) then never lead at once. A row taken by a lock's holder is taken over at once by
-- the next holder of the lock, who could not hold it were the first one's session alive.
-- Logged, so that a promoted standby knows who led.
CREATE TABLE leader_lease (
  name       text PRIMARY KEY,
  owner      text NOT NULL,
  expires_at timestamptz NOT NULL,
  by_lock    boolean NOT NULL
);
