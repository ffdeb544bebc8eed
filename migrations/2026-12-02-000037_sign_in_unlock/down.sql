DROP INDEX login_events_failures_at;
DELETE FROM login_events WHERE outcome = 'unlocked';
ALTER TABLE login_events DROP CONSTRAINT login_events_outcome_check;
ALTER TABLE login_events ADD CONSTRAINT login_events_outcome_check
    CHECK (outcome IN ('success', 'failure', 'locked'));
