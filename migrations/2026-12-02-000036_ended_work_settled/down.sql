ALTER TABLE phases DROP COLUMN entry_requires_members_reached;
ALTER TABLE tasks DROP COLUMN cancel_reason;
ALTER TABLE phases DROP COLUMN record_types;
