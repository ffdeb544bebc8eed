ALTER TABLE workflows DROP COLUMN pre_approved;
ALTER TABLE categories DROP COLUMN record_types;
