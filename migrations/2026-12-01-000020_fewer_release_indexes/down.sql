CREATE INDEX releases_phase_number ON releases (phase_id, number DESC);
CREATE INDEX releases_category_number ON releases (category_id, number DESC);
CREATE INDEX releases_planned_start ON releases (planned_start, number);
CREATE INDEX releases_planned_end ON releases (planned_end, number);
CREATE INDEX releases_active_phase_due ON releases (phase_due_at) WHERE state = 'active';
