DROP SEQUENCE relman_writes;
