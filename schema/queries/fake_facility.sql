-- The fake facility's call log and faults (sim/fake_facility.h; tables of 0010_fake_facility.sql).
-- A call with no effect (a device stuck offline) is logged with the detail 'no effect'.

-- name: fake_facility_record
-- $1 kind, $2 device, $3 idempotency key, $4 detail
INSERT INTO fake_facility_calls (kind, device, idempotency_key, detail) VALUES ($1, $2, $3, $4)

-- name: fake_facility_fault_take
-- The device's fault, one of its remaining count used up (no row: none left).
UPDATE fake_facility_faults SET remaining = remaining - 1
WHERE device = $1 AND remaining > 0
RETURNING mode

-- name: fake_facility_fault_peek
-- The device's fault, nothing used up (no row: none left).
SELECT mode FROM fake_facility_faults WHERE device = $1 AND remaining > 0

-- name: fake_facility_fault_set
-- $1 device, $2 mode, $3 how many calls it applies to
INSERT INTO fake_facility_faults (device, mode, remaining) VALUES ($1, $2, $3)
ON CONFLICT (device) DO UPDATE SET mode = EXCLUDED.mode, remaining = EXCLUDED.remaining

-- name: fake_facility_faults_clear
DELETE FROM fake_facility_faults

-- name: fake_facility_calls_to
-- Calls of kind $2 that reached device $1 (a baseline: what a later check compares with).
SELECT count(*) AS n FROM fake_facility_calls WHERE device = $1 AND kind = $2

-- name: fake_facility_effect
-- Whether a call with idempotency key $1 took effect.
SELECT 1 FROM fake_facility_calls WHERE idempotency_key = $1 AND detail <> 'no effect' LIMIT 1

-- name: fake_facility_calls
-- Calls of kind $1 with idempotency key $2 ('' for every key).
SELECT count(*) AS n FROM fake_facility_calls WHERE kind = $1 AND ($2 = '' OR idempotency_key = $2)
