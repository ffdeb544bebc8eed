ALTER TABLE users DROP COLUMN calendar_token;
DROP TABLE blackouts;
