-- Who confirmed a pending action: a confirmed action is no longer expired by its timer, even if
-- its execution has not started yet.
ALTER TABLE actions ADD COLUMN confirmed_by text;
