DROP FUNCTION record_transition(bigint, timestamptz, boolean, bigint, timestamptz, timestamptz, text, timestamptz, boolean,
                                integer, bigint, bigint, text, text, text, text, text);
DROP FUNCTION release_watchers(bigint);
DROP FUNCTION history_last_hash(bigint);
