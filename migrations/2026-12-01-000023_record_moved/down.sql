DROP FUNCTION record_moved(bigint, timestamptz, boolean, bigint, timestamptz, timestamptz, text, timestamptz, boolean, integer);
DROP INDEX release_phase_visits_current;
