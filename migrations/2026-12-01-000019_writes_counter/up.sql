-- Advanced after every write through any Relman instance has committed (app::note_writes,
-- the deadline monitor), and read with the signed-in user on every request: an instance
-- that sees it move drops what it keeps (src/kept.rs), so several instances behind a load
-- balancer never serve a page older than the last write.
CREATE SEQUENCE relman_writes;
