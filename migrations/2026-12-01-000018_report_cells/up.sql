-- The management report at a million releases. Its figures over every release, phase visit
-- (12.6 M rows at a million releases) and approval cannot be computed live in half a second,
-- so they are kept per registration month, category and type ("cells"):
--   active               active releases, per phase (phase_id)
--   closed_successful, closed_backed_out, abandoned     ended releases by outcome
--   on_time, late, unplanned                            closed releases against their planned end
--   closed               registration to closing (closed successful or backed out)
--   visit                phase visits, entered to left, per phase
--   approval             approvals, requested to decided (approved or denied), per phase
-- Each keeps a count; the durations (closed, visit, approval) also keep their sum in seconds
-- (so means are exact) and are split into bins 10 % wide, from which the 90th percentile is
-- read (domain::histogram). Other measures use bin 0 and 0 seconds.
--
-- Row triggers append each change as +1 / -1 rows to report_cell_changes (appends never wait
-- on each other, so concurrent transitions do not queue on a hot counter row);
-- report_cells_fold() moves them into report_cells (the deadline monitor calls it), and the
-- report reads both. The days of a month only partly in a report's range are read from the
-- records (services::reports), hence the index on the registration time.

-- The bin of a duration in seconds: bin b holds [1.1^b, 1.1^(b+1)) seconds (under a second: bin 0).
CREATE FUNCTION report_bin(seconds float8) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT floor(ln(greatest(seconds, 1.0)) / ln(1.1))::integer $$;

-- The first day of the UTC month of a moment.
CREATE FUNCTION report_month(t timestamptz) RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT date_trunc('month', t AT TIME ZONE 'UTC')::date $$;

CREATE TABLE report_cells (
    measure      TEXT NOT NULL,
    month        DATE NOT NULL,
    category_id  BIGINT NOT NULL,
    release_type TEXT NOT NULL,
    phase_id     BIGINT NOT NULL,
    bin          INTEGER NOT NULL,
    n            BIGINT NOT NULL,
    seconds      FLOAT8 NOT NULL,
    PRIMARY KEY (measure, month, category_id, release_type, phase_id, bin)
);

CREATE TABLE report_cell_changes (
    measure      TEXT NOT NULL,
    month        DATE NOT NULL,
    category_id  BIGINT NOT NULL,
    release_type TEXT NOT NULL,
    phase_id     BIGINT NOT NULL,
    bin          INTEGER NOT NULL,
    n            BIGINT NOT NULL,
    seconds      FLOAT8 NOT NULL
);

CREATE INDEX releases_registered ON releases (created_at) WHERE kind = 'release';

-- A release's own cells, counted `sign` times (1 to add, -1 to take away).
CREATE FUNCTION report_release_cells(r releases, sign integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    m date := report_month(r.created_at);
    s float8;
BEGIN
    IF r.kind <> 'release' THEN
        RETURN;
    END IF;
    INSERT INTO report_cell_changes VALUES
        (r.state, m, r.category_id, r.release_type, CASE WHEN r.state = 'active' THEN r.phase_id ELSE 0 END, 0, sign, 0);
    IF r.state IN ('closed_successful', 'closed_backed_out') THEN
        INSERT INTO report_cell_changes VALUES
            (CASE WHEN r.planned_end IS NULL THEN 'unplanned' WHEN r.closed_at <= r.planned_end THEN 'on_time' ELSE 'late' END,
             m, r.category_id, r.release_type, 0, 0, sign, 0);
        IF r.closed_at IS NOT NULL THEN
            s := extract(epoch FROM r.closed_at - r.created_at);
            INSERT INTO report_cell_changes VALUES ('closed', m, r.category_id, r.release_type, 0, report_bin(s), sign, sign * s);
        END IF;
    END IF;
END $$;

-- A release's completed visits and decided approvals, filed under the cell of `r`.
CREATE FUNCTION report_children_cells(r releases, sign integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO report_cell_changes
    SELECT 'visit', report_month(r.created_at), r.category_id, r.release_type, v.phase_id, report_bin(x.s), sign, sign * x.s
    FROM release_phase_visits v CROSS JOIN LATERAL (SELECT extract(epoch FROM v.left_at - v.entered_at)::float8 AS s) x
    WHERE v.release_id = r.id AND v.status = 'left' AND v.left_at IS NOT NULL AND r.kind = 'release';
    INSERT INTO report_cell_changes
    SELECT 'approval', report_month(r.created_at), r.category_id, r.release_type, a.phase_id, report_bin(x.s), sign, sign * x.s
    FROM approvals a CROSS JOIN LATERAL (SELECT extract(epoch FROM a.decided_at - a.opened_at)::float8 AS s) x
    WHERE a.release_id = r.id AND a.status IN ('approved', 'denied') AND a.decided_at IS NOT NULL AND r.kind = 'release';
$$;

CREATE FUNCTION report_release_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM report_release_cells(OLD, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM report_release_cells(NEW, 1);
    END IF;
    -- Registered at another time, or in another category or type: its visits and approvals move too.
    IF TG_OP = 'UPDATE' AND (OLD.created_at, OLD.category_id, OLD.release_type) IS DISTINCT FROM (NEW.created_at, NEW.category_id, NEW.release_type) THEN
        PERFORM report_children_cells(OLD, -1);
        PERFORM report_children_cells(NEW, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER report_release_inserted AFTER INSERT ON releases
    FOR EACH ROW WHEN (NEW.kind = 'release') EXECUTE FUNCTION report_release_changed();
CREATE TRIGGER report_release_deleted AFTER DELETE ON releases
    FOR EACH ROW WHEN (OLD.kind = 'release') EXECUTE FUNCTION report_release_changed();
CREATE TRIGGER report_release_updated AFTER UPDATE ON releases
    FOR EACH ROW WHEN (NEW.kind = 'release' AND
        (OLD.state, OLD.phase_id, OLD.closed_at, OLD.planned_end, OLD.created_at, OLD.category_id, OLD.release_type)
        IS DISTINCT FROM (NEW.state, NEW.phase_id, NEW.closed_at, NEW.planned_end, NEW.created_at, NEW.category_id, NEW.release_type))
    EXECUTE FUNCTION report_release_changed();

-- One visit's or approval's cell (under its release's month, category and type), counted
-- `sign` times; nothing for a change's.
-- (Its parameters are named apart from the columns of `releases`, which would win.)
CREATE FUNCTION report_child_cell(what text, of_release bigint, in_phase bigint, started timestamptz, ended timestamptz, sign integer)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO report_cell_changes
    SELECT what, report_month(r.created_at), r.category_id, r.release_type, in_phase, report_bin(x.s), sign, sign * x.s
    FROM releases r, LATERAL (SELECT extract(epoch FROM ended - started)::float8 AS s) x
    WHERE r.id = of_release AND r.kind = 'release';
$$;

-- A phase visit counts once it has been left.
CREATE FUNCTION report_visit_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status = 'left' AND OLD.left_at IS NOT NULL THEN
        PERFORM report_child_cell('visit', OLD.release_id, OLD.phase_id, OLD.entered_at, OLD.left_at, -1);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'left' AND NEW.left_at IS NOT NULL THEN
        PERFORM report_child_cell('visit', NEW.release_id, NEW.phase_id, NEW.entered_at, NEW.left_at, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER report_visit_inserted AFTER INSERT ON release_phase_visits
    FOR EACH ROW WHEN (NEW.status = 'left') EXECUTE FUNCTION report_visit_changed();
CREATE TRIGGER report_visit_deleted AFTER DELETE ON release_phase_visits
    FOR EACH ROW WHEN (OLD.status = 'left') EXECUTE FUNCTION report_visit_changed();
CREATE TRIGGER report_visit_updated AFTER UPDATE ON release_phase_visits
    FOR EACH ROW WHEN ((OLD.status, OLD.left_at, OLD.entered_at, OLD.phase_id, OLD.release_id)
                       IS DISTINCT FROM (NEW.status, NEW.left_at, NEW.entered_at, NEW.phase_id, NEW.release_id))
    EXECUTE FUNCTION report_visit_changed();

-- An approval counts once decided (approved or denied).
CREATE FUNCTION report_approval_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status IN ('approved', 'denied') AND OLD.decided_at IS NOT NULL THEN
        PERFORM report_child_cell('approval', OLD.release_id, OLD.phase_id, OLD.opened_at, OLD.decided_at, -1);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status IN ('approved', 'denied') AND NEW.decided_at IS NOT NULL THEN
        PERFORM report_child_cell('approval', NEW.release_id, NEW.phase_id, NEW.opened_at, NEW.decided_at, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER report_approval_inserted AFTER INSERT ON approvals
    FOR EACH ROW WHEN (NEW.status IN ('approved', 'denied')) EXECUTE FUNCTION report_approval_changed();
CREATE TRIGGER report_approval_deleted AFTER DELETE ON approvals
    FOR EACH ROW WHEN (OLD.status IN ('approved', 'denied')) EXECUTE FUNCTION report_approval_changed();
CREATE TRIGGER report_approval_updated AFTER UPDATE ON approvals
    FOR EACH ROW WHEN ((OLD.status, OLD.decided_at, OLD.opened_at, OLD.phase_id, OLD.release_id)
                       IS DISTINCT FROM (NEW.status, NEW.decided_at, NEW.opened_at, NEW.phase_id, NEW.release_id))
    EXECUTE FUNCTION report_approval_changed();

-- What the cells count, one row per counted thing, read from the records: the report reads
-- it for the days of a month only partly in its range, and report_cells_from_records groups
-- it into cells (the initial count, and the check in the tests).
CREATE VIEW report_cell_records AS
SELECT r.kind, r.created_at, r.category_id, r.release_type, x.measure, x.phase_id, x.s
FROM releases r
CROSS JOIN LATERAL (VALUES
    (r.state, CASE WHEN r.state = 'active' THEN r.phase_id ELSE 0 END, 0::float8),
    (CASE WHEN r.state NOT IN ('closed_successful', 'closed_backed_out') THEN NULL
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

CREATE VIEW report_cells_from_records AS
SELECT measure, report_month(created_at) AS month, category_id, release_type, phase_id, report_bin(s) AS bin, count(*) AS n, sum(s) AS seconds
FROM report_cell_records
WHERE kind = 'release'
GROUP BY measure, report_month(created_at), category_id, release_type, phase_id, report_bin(s);

-- Moves the appended changes into the cells. One caller at a time (an advisory lock), so two
-- instances' monitors cannot deadlock on the same cells; rows appended while it runs wait
-- for the next fold. Returns how many changes it moved.
CREATE FUNCTION report_cells_fold() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE moved bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7304512018);
    WITH gone AS (DELETE FROM report_cell_changes RETURNING *),
         summed AS (SELECT measure, month, category_id, release_type, phase_id, bin, sum(n)::bigint AS n, sum(seconds) AS seconds, count(*) AS rows
                    FROM gone GROUP BY measure, month, category_id, release_type, phase_id, bin),
         done AS (INSERT INTO report_cells AS c (measure, month, category_id, release_type, phase_id, bin, n, seconds)
                  SELECT measure, month, category_id, release_type, phase_id, bin, n, seconds FROM summed
                  ORDER BY measure, month, category_id, release_type, phase_id, bin
                  ON CONFLICT (measure, month, category_id, release_type, phase_id, bin)
                  DO UPDATE SET n = c.n + EXCLUDED.n, seconds = c.seconds + EXCLUDED.seconds)
    SELECT coalesce(sum(rows), 0) INTO moved FROM summed;
    RETURN moved;
END $$;

-- Counts every cell afresh (after a load with triggers off, and here for existing data).
CREATE FUNCTION report_cells_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7304512018);
    DELETE FROM report_cell_changes;
    DELETE FROM report_cells;
    INSERT INTO report_cells SELECT * FROM report_cells_from_records;
END $$;

SELECT report_cells_rebuild();
