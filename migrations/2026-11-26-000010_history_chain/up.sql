-- Tamper evidence: each history event carries a hash over its content and the previous
-- event's hash for the same record; `relman verify` recomputes the chains.
ALTER TABLE history_events ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE history_events ADD COLUMN hash TEXT NOT NULL DEFAULT '';
