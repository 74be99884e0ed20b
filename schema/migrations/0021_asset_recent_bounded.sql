-- The policy's look at a device's recent physical actions (`asset_recent`) read every action the
-- device ever had: with a month of traffic copied behind it (scripts/bench-growth, 308,000 history
-- rows) the flow ran at 0.64 of an empty database's, every decision waiting on that scan under
-- the device's lock. It now reads three index ranges that do not grow with history: the last hour
-- of starts and the newest start (actions_asset_started_idx), and the actions not started, which
-- this partial index holds (the few waiting for a worker or a customer's YES).
CREATE INDEX actions_asset_unstarted_idx ON actions ((target ->> 'device_id'))
  WHERE started_at IS NULL AND state NOT IN ('cancelled', 'rejected', 'escalated');
