-- The report cell of a visit or an approval (migration 000018) written by PL/pgSQL instead of
-- plain SQL: a SQL function that cannot be inlined (it inserts) is parsed and planned anew on
-- every call, and the triggers call it on every phase move and every decision. PL/pgSQL keeps
-- the plan for the session.
CREATE OR REPLACE FUNCTION report_child_cell(what text, of_release bigint, in_phase bigint, started timestamptz, ended timestamptz, sign integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_cell_changes
    SELECT what, report_month(r.created_at), r.category_id, r.release_type, in_phase, report_bin(x.s), sign, sign * x.s
    FROM releases r, LATERAL (SELECT extract(epoch FROM ended - started)::float8 AS s) x
    WHERE r.id = of_release AND r.kind = 'release';
END $$;
