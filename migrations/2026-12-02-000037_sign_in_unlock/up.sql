-- `relman user unlock NAME` records an 'unlocked' event: the name's earlier failures stop
-- counting (they stay in the log). The administrators' page of accounts being attacked reads
-- recent failures by time.
ALTER TABLE login_events DROP CONSTRAINT login_events_outcome_check;
ALTER TABLE login_events ADD CONSTRAINT login_events_outcome_check
    CHECK (outcome IN ('success', 'failure', 'locked', 'unlocked'));
CREATE INDEX login_events_failures_at ON login_events (at) WHERE outcome = 'failure';
