-- Indexes for a million releases: every filter and sort of the release and change lists
-- leads with `kind` (both live in `releases`) and ends with the list's order, and carries
-- the id, so a page deep in the results is found by an index-only scan and only its own
-- rows are read (see models::releases::list_of). Checked with EXPLAIN in tests/it/perf.rs.
CREATE INDEX releases_list_number ON releases (kind, number DESC) INCLUDE (id);
CREATE INDEX releases_list_phase ON releases (kind, phase_id, number DESC) INCLUDE (id);
CREATE INDEX releases_list_state ON releases (kind, state, number DESC) INCLUDE (id);
CREATE INDEX releases_list_category ON releases (kind, category_id, number DESC) INCLUDE (id);
CREATE INDEX releases_list_type ON releases (kind, release_type, number DESC) INCLUDE (id);
CREATE INDEX releases_list_coordinator ON releases (kind, coordinator_id, number DESC) INCLUDE (id);
CREATE INDEX releases_list_planned_start ON releases (kind, planned_start, number DESC) INCLUDE (id);
CREATE INDEX releases_list_planned_end ON releases (kind, planned_end, number DESC) INCLUDE (id);
CREATE INDEX releases_list_updated ON releases (kind, updated_at DESC, number DESC) INCLUDE (id);
-- Superseded by the ones above (the same columns after `kind`).
DROP INDEX releases_state_number;
DROP INDEX releases_type_number;
DROP INDEX releases_coordinator_number;
DROP INDEX releases_kind_number;
DROP INDEX releases_updated;

-- The approvals inbox (and the count in every approver's navigation): a group's pending
-- approvals, oldest first.
CREATE INDEX approvals_pending_group_opened ON approvals (group_id, opened_at) WHERE status = 'pending';
DROP INDEX approvals_pending_group;

-- The dashboard's schedule: active releases by planned start (planned end has its own).
CREATE INDEX releases_active_planned_start ON releases (planned_start) WHERE state = 'active';

-- Tasks of a release by assignee (separation of duties is checked for every inbox row).
CREATE INDEX tasks_release_assignee ON tasks (release_id, assignee_id);
