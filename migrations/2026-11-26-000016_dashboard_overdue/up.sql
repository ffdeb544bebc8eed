-- The dashboard's overdue figures and list: active records by phase due date, with the planned
-- end beside it, so counting and listing the overdue ones reads only this small index.
CREATE INDEX releases_active_dates ON releases (kind, phase_due_at, number) INCLUDE (planned_end) WHERE state = 'active';
