CREATE OR REPLACE FUNCTION report_child_cell(what text, of_release bigint, in_phase bigint, started timestamptz, ended timestamptz, sign integer)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO report_cell_changes
    SELECT what, report_month(r.created_at), r.category_id, r.release_type, in_phase, report_bin(x.s), sign, sign * x.s
    FROM releases r, LATERAL (SELECT extract(epoch FROM ended - started)::float8 AS s) x
    WHERE r.id = of_release AND r.kind = 'release';
$$;
