DROP FUNCTION relman_write_done();
DROP FUNCTION relman_writes_seen();
