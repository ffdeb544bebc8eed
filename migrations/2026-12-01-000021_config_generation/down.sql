DROP FUNCTION notify_people(bigint[], bigint, text, text, text, text);
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['workflows', 'phases', 'transitions', 'phase_field_rules', 'phase_approvals', 'categories'] LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', t || '_config_changed', t);
    END LOOP;
END $$;
DROP FUNCTION config_changed();
DROP TABLE config_generation;
