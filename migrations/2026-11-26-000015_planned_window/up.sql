-- Releases by planned window (the calendar month, the conflict checks, the list's "planned on"
-- filter): a window is [start, end], or the one planned moment when only one is set. A GiST
-- index on it answers "which windows meet this range" without reading every release that
-- started before the range (nearly all of a million, for the current month).
-- least/greatest keep an (invalid) end-before-start window a valid range.
CREATE INDEX releases_planned_window ON releases USING gist (
    tstzrange(
        least(coalesce(planned_start, planned_end), coalesce(planned_end, planned_start)),
        greatest(coalesce(planned_start, planned_end), coalesce(planned_end, planned_start)),
        '[]')
) WHERE kind = 'release' AND (planned_start IS NOT NULL OR planned_end IS NOT NULL);
