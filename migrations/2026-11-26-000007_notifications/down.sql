ALTER TABLE phases DROP COLUMN blocked_by_blackouts;
DROP INDEX tasks_open_due;
DROP INDEX releases_active_planned_end;
DROP INDEX releases_active_phase_due;
DROP TABLE alerts;
DROP TABLE mail_outbox;
DROP TABLE watchers;
DROP TABLE notifications;
