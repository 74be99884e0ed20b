-- Whether the handler of a job's current attempt has started. A worker that dies holds jobs it
-- had claimed but not yet started (waiting in its local queue for an executor); their leases
-- expire like those of the jobs it was running, and used to cost each an attempt that never ran
-- (a chaos run saw 13 resets die `retries_exhausted` that way). The claim clears the mark, the
-- worker sets it for handlers still running shortly after their start (jobs that finish sooner
-- are acknowledged instead), and the rescue gives back the attempt of a job never marked (one
-- more max_attempts), at most three times per job (`unstarted_rescues`), so that a handler that
-- kills its worker before its mark is written still runs out of attempts.
ALTER TABLE jobs
  ADD COLUMN handler_started boolean NOT NULL DEFAULT false,
  ADD COLUMN unstarted_rescues smallint NOT NULL DEFAULT 0;
