-- Policy and safety: the versioned autonomy profile, the controls (emergency stop, toggles),
-- suggestions, bookings and token budgets the decision reads.

-- Every version of the autonomy profile. Exactly one is active; a proposal is approved by an admin
-- other than its proposer; restoring an old version makes a new version with its profile.
CREATE TABLE policy_versions (
  id           serial      PRIMARY KEY,
  profile      jsonb       NOT NULL,
  state        text        NOT NULL CHECK (state IN ('proposed', 'active', 'retired', 'rejected')),
  based_on     integer     REFERENCES policy_versions (id),
  diff         jsonb       NOT NULL DEFAULT '[]'::jsonb,
  note         text,
  proposed_by  text        NOT NULL,
  proposed_at  timestamptz NOT NULL DEFAULT now(),
  approved_by  text,
  approved_at  timestamptz,
  CONSTRAINT policy_versions_four_eyes CHECK (approved_by IS NULL OR approved_by <> proposed_by),
  CONSTRAINT policy_versions_active_approved CHECK ((state IN ('active', 'retired')) <= (approved_by IS NOT NULL))
);
CREATE UNIQUE INDEX policy_versions_one_active ON policy_versions ((true)) WHERE state = 'active';

-- The emergency stop per scope: 'global', 'location:<id>', 'category:<name>'.
CREATE TABLE emergency_stops (
  scope       text        PRIMARY KEY CHECK (scope ~ '^(global|location:.+|category:.+)$'),
  engaged     boolean     NOT NULL,
  reason      text        NOT NULL,
  changed_by  text        NOT NULL,
  changed_at  timestamptz NOT NULL DEFAULT now()
);

-- Auto-send (replies) and auto-execute (physical actions). Off: what ClubOS would have done is
-- stored as a suggestion for an operator.
CREATE TABLE toggles (
  name        text        PRIMARY KEY CHECK (name IN ('auto_send', 'auto_execute')),
  enabled     boolean     NOT NULL,
  changed_by  text        NOT NULL,
  changed_at  timestamptz NOT NULL DEFAULT now()
);

-- Every change of a control, in order (who, what, why).
CREATE TABLE control_events (
  id      bigserial   PRIMARY KEY,
  control text        NOT NULL,
  value   boolean     NOT NULL,
  reason  text,
  actor   text        NOT NULL,
  at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE suggestions (
  id          bigserial   PRIMARY KEY,
  thread_id   bigint      NOT NULL REFERENCES threads (id),
  kind        text        NOT NULL,
  target      jsonb       NOT NULL,
  params      jsonb       NOT NULL DEFAULT '{}'::jsonb,
  reason      text        NOT NULL,
  decision    jsonb       NOT NULL,
  booking_id  text,
  state       text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),
  decided_by  text,
  decided_at  timestamptz,
  action_id   bigint      REFERENCES actions (id),
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT suggestions_decided CHECK ((state = 'pending') = (decided_by IS NULL))
);
CREATE INDEX suggestions_pending_idx ON suggestions (id) WHERE state = 'pending';

-- Bookings the policy reads (from the booking system, through POST /v1/bookings).
CREATE TABLE bookings (
  id                text        PRIMARY KEY,
  location          text        NOT NULL,
  bay               integer,
  customer_phone    text        NOT NULL,
  start_at          timestamptz NOT NULL,
  end_at            timestamptz NOT NULL,
  customer_flagged  boolean     NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT bookings_span CHECK (end_at > start_at)
);
CREATE INDEX bookings_customer_idx ON bookings (customer_phone, location, start_at);

-- Model tokens spent per location per day (the budget caps read it).
CREATE TABLE token_usage (
  location  text    NOT NULL,
  day       date    NOT NULL,
  tokens    bigint  NOT NULL DEFAULT 0 CHECK (tokens >= 0),
  PRIMARY KEY (location, day)
);

-- "One unlock per booking" looks actions up by booking.
CREATE INDEX actions_booking_idx ON actions (booking_id) WHERE booking_id IS NOT NULL;
