DROP INDEX releases_active_phase;
DROP TRIGGER record_state_counts_update ON releases;
DROP TRIGGER record_state_counts_delete ON releases;
DROP TRIGGER record_state_counts_insert ON releases;
DROP FUNCTION record_state_counts_update();
DROP FUNCTION record_state_counts_delete();
DROP FUNCTION record_state_counts_insert();
DROP TABLE record_state_counts;
