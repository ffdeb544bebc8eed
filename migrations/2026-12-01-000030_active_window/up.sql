-- The active releases by planned window: the conflict checks (a release page, the calendar's
-- warnings) look only at active releases, and through releases_planned_window (migration
-- 000015, every state) PostgreSQL combined two bitmaps — at a million, 64,000 windows of
-- every state meet two days, 290,000 meet a month — before reading the first row, so the
-- release page's "first six that share a service" cost 23 ms warm and 60 ms after a write.
-- Through this index it reads the active ones in order and stops at six: 2 ms. Only active
-- releases are in it (1 MB at a million), so a move adds little to its writes.
CREATE INDEX releases_active_window ON releases USING gist (
    tstzrange(
        least(coalesce(planned_start, planned_end), coalesce(planned_end, planned_start)),
        greatest(coalesce(planned_start, planned_end), coalesce(planned_end, planned_start)),
        '[]')
) WHERE kind = 'release' AND state = 'active' AND (planned_start IS NOT NULL OR planned_end IS NOT NULL);
