ALTER TABLE history_events DROP COLUMN hash; ALTER TABLE history_events DROP COLUMN prev_hash;
