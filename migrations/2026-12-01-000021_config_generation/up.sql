-- A counter of changes to workflow configuration (workflows, phases, transitions, field rules,
-- phase approvals, categories, groups), kept by statement triggers so no way of editing them is
-- missed. An instance keeps each workflow's configuration in memory with the counter it was
-- read at, and reads it afresh when the counter has moved: a transition reads one row instead
-- of a dozen. The row is updated in the editing transaction, so the counter and the rows it
-- counts commit together.
CREATE TABLE config_generation (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    n bigint NOT NULL
);
INSERT INTO config_generation VALUES (true, 1);

CREATE FUNCTION config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE config_generation SET n = n + 1;
    RETURN NULL;
END $$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['workflows', 'phases', 'transitions', 'phase_field_rules', 'phase_approvals', 'categories', 'groups'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION config_changed()',
                       t || '_config_changed', t);
    END LOOP;
END $$;

-- One notification to each of `recipients` who is active, and an e-mail in the outbox for
-- each of them with an address: one statement whatever the number of people. PL/pgSQL, so
-- its plan is kept between calls (a plain SQL function is planned anew each time).
CREATE FUNCTION notify_people(recipients bigint[], about bigint, note_kind text, note_subject text, note_body text, note_link text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    sent integer;
BEGIN
    WITH people AS (
        SELECT id, email FROM users WHERE id = ANY(recipients) AND active
    ), inserted AS (
        INSERT INTO notifications (user_id, release_id, kind, subject, body, link)
        SELECT id, about, note_kind, note_subject, note_body, note_link FROM people ORDER BY id
        RETURNING id, user_id
    ), mailed AS (
        INSERT INTO mail_outbox (notification_id, to_address, subject, text_body, link)
        SELECT i.id, p.email, note_subject, note_body, note_link
        FROM inserted i JOIN people p ON p.id = i.user_id
        WHERE coalesce(p.email, '') <> ''
        ORDER BY i.id
    )
    SELECT count(*) INTO sent FROM inserted;
    RETURN sent;
END $$;

-- Per-state counts (migration 000014) on an update: a row trigger that fires only when a
-- record's state changes. The statement trigger it replaces collected every updated row into
-- transition tables and ran its aggregate on every update, a phase move included.
DROP TRIGGER record_state_counts_update ON releases;
DROP FUNCTION record_state_counts_update();
CREATE FUNCTION record_state_counts_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Counter rows are locked in (kind, state) order, as the statement triggers do.
    INSERT INTO record_state_counts AS c (kind, state, n)
    SELECT kind, state, d FROM (VALUES (OLD.kind, OLD.state, -1), (NEW.kind, NEW.state, 1)) v (kind, state, d)
    ORDER BY kind, state
    ON CONFLICT (kind, state) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;
CREATE TRIGGER record_state_counts_update AFTER UPDATE ON releases
    FOR EACH ROW WHEN ((OLD.kind, OLD.state) IS DISTINCT FROM (NEW.kind, NEW.state))
    EXECUTE FUNCTION record_state_counts_moved();
