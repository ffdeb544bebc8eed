DROP FUNCTION release_open_tasks(bigint, bigint);
DROP FUNCTION record_transition(bigint, timestamptz, boolean, bigint, timestamptz, timestamptz, text, timestamptz,
                                boolean, integer, bigint, bigint, text, text, text, text, text);
CREATE FUNCTION record_transition(rec bigint, at timestamptz, entered boolean, new_phase bigint, phase_since timestamptz,
                                  phase_due timestamptz, new_state text, ended timestamptz, is_backed_out boolean,
                                  new_version integer, actor bigint, left_phase bigint, event_kind text,
                                  event_summary text, event_reason text, prev_hash text, event_hash text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    moved integer;
    withdrawn_id bigint;
    withdrawn_cycle integer;
BEGIN
    UPDATE approvals SET status = 'withdrawn', decided_at = at
    WHERE release_id = rec AND phase_id = left_phase AND status IN ('pending', 'denied')
    RETURNING id, cycle INTO withdrawn_id, withdrawn_cycle;
    IF withdrawn_id IS NOT NULL THEN
        INSERT INTO approval_log (approval_id, cycle, actor_id, action, comment)
        VALUES (withdrawn_id, withdrawn_cycle, actor, 'withdrawn', 'The release left the phase.');
    END IF;
    moved := record_moved(rec, at, entered, new_phase, phase_since, phase_due, new_state, ended, is_backed_out, new_version);
    INSERT INTO history_events (at, prev_hash, hash, release_id, actor_id, record_version, kind, summary,
                                from_phase_id, to_phase_id, reason)
    VALUES (at, prev_hash, event_hash, rec, actor, new_version, event_kind, event_summary,
            left_phase, CASE WHEN entered THEN new_phase END, event_reason);
    RETURN moved;
END $$;
