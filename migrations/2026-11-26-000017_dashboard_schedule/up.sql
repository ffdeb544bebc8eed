-- The dashboard's schedule: active releases in order of their window's start (the planned
-- start, or the planned end when that is all there is), read in that order and stopping after
-- the first few whose window reaches the coming days (services::reports::schedule).
CREATE INDEX releases_active_schedule ON releases ((coalesce(planned_start, planned_end)), number) INCLUDE (planned_start, planned_end)
    WHERE state = 'active' AND kind = 'release';
