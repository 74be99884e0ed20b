-- Operator accounts and login sessions (api/accounts.h). $now is the caller's clock
-- (Clock::DbNow()): NULL means the database's now(), a fake clock's time in tests.

-- name: account_add
-- $1 name, $2 role, $3 password hash, $4 now. No row: the name is taken.
INSERT INTO users (name, role, password_hash, created_at, updated_at)
VALUES ($1, $2, $3, coalesce($4::timestamptz, now()), coalesce($4::timestamptz, now()))
ON CONFLICT (name) DO NOTHING
RETURNING id

-- name: account_list
SELECT id, name, role, disabled, created_at, last_login_at FROM users ORDER BY name

-- name: account_for_login
SELECT id, role, password_hash, disabled FROM users WHERE name = $1

-- name: account_set_disabled
-- $1 name, $2 disabled, $3 now. No row: no such user.
UPDATE users SET disabled = $2::boolean, updated_at = coalesce($3::timestamptz, now())
WHERE name = $1
RETURNING id

-- name: account_set_password
-- $1 name, $2 password hash, $3 now. No row: no such user.
UPDATE users SET password_hash = $2, updated_at = coalesce($3::timestamptz, now())
WHERE name = $1
RETURNING id

-- name: account_user_id
SELECT id FROM users WHERE name = $1

-- name: session_create
-- $1 user id, $2 token hash, $3 csrf, $4 ttl in ms, $5 the hash the password was verified
-- against, $6 now. A compare-and-set on the account as Login read it: no row when the user was
-- disabled or the password reset between the check and this insert (the login is then refused).
INSERT INTO sessions (user_id, token_hash, csrf, created_at, expires_at, last_seen_at)
SELECT u.id, $2, $3, coalesce($6::timestamptz, now()),
       coalesce($6::timestamptz, now()) + $4::bigint * interval '1 millisecond',
       coalesce($6::timestamptz, now())
FROM users u WHERE u.id = $1::bigint AND NOT u.disabled AND u.password_hash = $5
RETURNING expires_at

-- name: account_logged_in
UPDATE users SET last_login_at = coalesce($2::timestamptz, now()) WHERE id = $1::bigint

-- name: session_find
-- $1 token hash, $2 now. A live session: not expired, not revoked, its user not disabled. Touches
-- last_seen_at at most once a minute, so a busy operator's requests are not each a write.
WITH s AS (
  SELECT s.id, s.csrf, s.expires_at, s.last_seen_at, u.name, u.role
  FROM sessions s JOIN users u ON u.id = s.user_id
  WHERE s.token_hash = $1 AND s.revoked_at IS NULL
    AND s.expires_at > coalesce($2::timestamptz, now()) AND NOT u.disabled
), touched AS (
  UPDATE sessions SET last_seen_at = coalesce($2::timestamptz, now())
  WHERE id IN (SELECT id FROM s
               WHERE last_seen_at < coalesce($2::timestamptz, now()) - interval '1 minute')
)
SELECT csrf, expires_at, name, role FROM s

-- name: session_revoke
-- $1 token hash, $2 now. Idempotent: a revoked session keeps its first revocation time.
UPDATE sessions SET revoked_at = coalesce($2::timestamptz, now())
WHERE token_hash = $1 AND revoked_at IS NULL

-- name: session_revoke_user
-- $1 user id, $2 now. Every live session of the user; the count is the number revoked (an
-- expired one is dead already and left as it is).
UPDATE sessions SET revoked_at = coalesce($2::timestamptz, now())
WHERE user_id = $1::bigint AND revoked_at IS NULL AND expires_at > coalesce($2::timestamptz, now())

-- name: session_prune
-- $1 now. Sessions that expired more than a day ago are of no further use (a revoked one expires
-- too, within the session's lifetime).
DELETE FROM sessions WHERE expires_at < coalesce($1::timestamptz, now()) - interval '1 day'
