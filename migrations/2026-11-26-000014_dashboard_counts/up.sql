-- The dashboard at a million records. Its per-state totals come from a table of counts kept
-- right by statement-level triggers (one small aggregate per statement, whatever the rows:
-- a bulk COPY adds its batch in one go), instead of counting every record on every visit.
CREATE TABLE record_state_counts (
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (kind, state)
);
INSERT INTO record_state_counts (kind, state, n) SELECT kind, state, count(*) FROM releases GROUP BY kind, state;

-- Counter rows are locked in (kind, state) order, so two transactions cannot deadlock on them.
CREATE FUNCTION record_state_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO record_state_counts AS c (kind, state, n)
    SELECT kind, state, count(*) FROM new_rows GROUP BY kind, state ORDER BY kind, state
    ON CONFLICT (kind, state) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION record_state_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO record_state_counts AS c (kind, state, n)
    SELECT kind, state, -count(*) FROM old_rows GROUP BY kind, state ORDER BY kind, state
    ON CONFLICT (kind, state) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION record_state_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO record_state_counts AS c (kind, state, n)
    SELECT kind, state, sum(d) FROM (
        SELECT o.kind, o.state, -1 AS d FROM old_rows o JOIN new_rows w ON w.id = o.id
        WHERE (o.kind, o.state) IS DISTINCT FROM (w.kind, w.state)
        UNION ALL
        SELECT w.kind, w.state, 1 FROM old_rows o JOIN new_rows w ON w.id = o.id
        WHERE (o.kind, o.state) IS DISTINCT FROM (w.kind, w.state)
    ) x GROUP BY kind, state ORDER BY kind, state
    ON CONFLICT (kind, state) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE TRIGGER record_state_counts_insert AFTER INSERT ON releases
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION record_state_counts_insert();
CREATE TRIGGER record_state_counts_delete AFTER DELETE ON releases
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION record_state_counts_delete();
CREATE TRIGGER record_state_counts_update AFTER UPDATE ON releases
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION record_state_counts_update();

-- Active records per phase, by an index-only scan of the few active ones (the overdue figures
-- use releases_active_phase_due and releases_active_planned_end).
CREATE INDEX releases_active_phase ON releases (kind, phase_id) WHERE state = 'active';
