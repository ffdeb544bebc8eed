DROP TRIGGER record_state_counts_update ON releases;
DROP FUNCTION record_state_counts_moved();
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
CREATE TRIGGER record_state_counts_update AFTER UPDATE ON releases
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION record_state_counts_update();
DROP FUNCTION notify_people(bigint[], bigint, text, text, text, text);
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['workflows', 'phases', 'transitions', 'phase_field_rules', 'phase_approvals', 'categories', 'groups'] LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', t || '_config_changed', t);
    END LOOP;
END $$;
DROP FUNCTION config_changed();
DROP TABLE config_generation;
