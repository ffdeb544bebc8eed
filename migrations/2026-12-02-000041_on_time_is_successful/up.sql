-- On-time delivery counts successful closings only (issue 23, item 9). Migration 000018 rated
-- every closed release against its planned end, so a release backed out before its planned
-- end counted as delivered on time. Now only a release closed as successful is on time, late
-- or unplanned; backed-out and abandoned releases are counted by their state (the report
-- shows them as rows of their own). The trigger function and the view the report reads for
-- part months change together, then every cell is counted afresh.
CREATE OR REPLACE FUNCTION report_release_cells(r releases, sign integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    m date := report_month(r.created_at);
    s float8;
BEGIN
    IF r.kind <> 'release' THEN
        RETURN;
    END IF;
    INSERT INTO report_cell_changes VALUES
        (r.state, m, r.category_id, r.release_type, CASE WHEN r.state = 'active' THEN r.phase_id ELSE 0 END, 0, sign, 0);
    IF r.state = 'closed_successful' THEN
        INSERT INTO report_cell_changes VALUES
            (CASE WHEN r.planned_end IS NULL THEN 'unplanned' WHEN r.closed_at <= r.planned_end THEN 'on_time' ELSE 'late' END,
             m, r.category_id, r.release_type, 0, 0, sign, 0);
    END IF;
    IF r.state IN ('closed_successful', 'closed_backed_out') AND r.closed_at IS NOT NULL THEN
        s := extract(epoch FROM r.closed_at - r.created_at);
        INSERT INTO report_cell_changes VALUES ('closed', m, r.category_id, r.release_type, 0, report_bin(s), sign, sign * s);
    END IF;
END $$;

CREATE OR REPLACE VIEW report_cell_records AS
SELECT r.kind, r.created_at, r.category_id, r.release_type, x.measure, x.phase_id, x.s
FROM releases r
CROSS JOIN LATERAL (VALUES
    (r.state, CASE WHEN r.state = 'active' THEN r.phase_id ELSE 0 END, 0::float8),
    (CASE WHEN NOT (r.state = 'closed_successful') THEN NULL
          WHEN r.planned_end IS NULL THEN 'unplanned' WHEN r.closed_at <= r.planned_end THEN 'on_time' ELSE 'late' END, 0, 0),
    (CASE WHEN r.state IN ('closed_successful', 'closed_backed_out') AND r.closed_at IS NOT NULL THEN 'closed' END, 0,
     extract(epoch FROM r.closed_at - r.created_at)::float8)
) x(measure, phase_id, s)
WHERE x.measure IS NOT NULL
UNION ALL
SELECT r.kind, r.created_at, r.category_id, r.release_type, 'visit', v.phase_id, extract(epoch FROM v.left_at - v.entered_at)::float8
FROM release_phase_visits v JOIN releases r ON r.id = v.release_id
WHERE v.status = 'left' AND v.left_at IS NOT NULL
UNION ALL
SELECT r.kind, r.created_at, r.category_id, r.release_type, 'approval', a.phase_id, extract(epoch FROM a.decided_at - a.opened_at)::float8
FROM approvals a JOIN releases r ON r.id = a.release_id
WHERE a.status IN ('approved', 'denied') AND a.decided_at IS NOT NULL;

SELECT report_cells_rebuild();
