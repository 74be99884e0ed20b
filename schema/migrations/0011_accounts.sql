-- Operator accounts and their login sessions (api/accounts.h). The history records the person who
-- acted (`operator:<name>`), so a name is never reused for another person: a leaver is disabled,
-- not deleted.
CREATE TABLE users (
  id            bigserial   PRIMARY KEY,
  name          text        NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,31}$'),
  role          text        NOT NULL CHECK (role IN ('operator', 'admin')),
  -- crypto_pwhash_str's output: the algorithm, its parameters, the salt and the hash.
  password_hash text        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
  disabled      boolean     NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz
);

-- One row per login. The token itself is never stored, only its SHA-256 (hex): whoever reads this
-- table (a backup, a replica) cannot act as anyone. The CSRF token is stored as given: it is worth
-- nothing without the session token, and the API compares it to the request's header.
CREATE TABLE sessions (
  id           bigserial   PRIMARY KEY,
  user_id      bigint      NOT NULL REFERENCES users (id),
  token_hash   text        NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  csrf         text        NOT NULL CHECK (length(csrf) = 43),
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL CHECK (expires_at > created_at),
  revoked_at   timestamptz,
  last_seen_at timestamptz NOT NULL
);
-- Revoking every session of a user (disable, password reset).
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;
-- Pruning the expired ones.
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
