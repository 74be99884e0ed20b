-- Named statements of the operator console's routes: the live event feed, takeover, status.

-- name: events_start
-- Where a feed that has seen nothing starts: after every transaction already finished.
SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS tx

-- name: events_after
-- The history after the cursor ($1 tx, $2 id), in commit-safe order (migration 0012): only rows of
-- transactions older than every one still running, so no row can later appear behind the cursor.
-- $3 limit.
SELECT x.id, x.tx::text AS tx, x.entity, x.entity_id,
       CASE WHEN x.entity = 'thread' THEN x.entity_id ELSE a.thread_id END AS thread_id,
       x.from_state, x.event, x.to_state, x.actor, x.at
FROM transitions x
LEFT JOIN actions a ON x.entity = 'action' AND a.id = x.entity_id
WHERE (x.tx, x.id) > ($1::xid8, $2::bigint)
  AND x.tx < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY x.tx, x.id
LIMIT $3::int
