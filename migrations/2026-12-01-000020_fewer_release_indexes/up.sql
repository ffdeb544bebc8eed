-- Transitions at a million releases: a phase change rewrites the release's entry in every
-- index of `releases` (an indexed column changes, so no HOT update). These five are covered
-- by others (queries that count by phase or category name the kinds, so the kind-led list
-- indexes serve them).
DROP INDEX releases_category_number;  -- releases_list_category (kind, category_id, number DESC)
DROP INDEX releases_phase_number;     -- releases_list_phase (kind, phase_id, number DESC)
DROP INDEX releases_planned_start;    -- releases_list_planned_start, releases_active_planned_start
DROP INDEX releases_planned_end;      -- releases_list_planned_end, releases_active_planned_end
DROP INDEX releases_active_phase_due; -- releases_active_dates (kind, phase_due_at, number) WHERE active
