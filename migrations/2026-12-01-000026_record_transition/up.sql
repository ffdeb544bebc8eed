-- What a change to a record appends to, read with the record's row lock
-- (models::releases::with_details_for_update) instead of by two more statements: the last hash
-- of its history chain and its watchers. PL/pgSQL, so their plans are kept for the session.
CREATE FUNCTION history_last_hash(rec bigint) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce((SELECT hash FROM history_events WHERE release_id = rec ORDER BY id DESC LIMIT 1), '');
END $$;

CREATE FUNCTION release_watchers(rec bigint) RETURNS bigint[] LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN ARRAY(SELECT user_id FROM watchers WHERE release_id = rec ORDER BY user_id);
END $$;

-- A transition's writes in one statement, as Relman decided them (services::releases::
-- take_transition_kind): the approval still undecided in the phase left is withdrawn and its
-- log says so, the move is stored (record_moved), and the history event, sealed by Relman
-- onto the chain's last hash, is appended. One round trip instead of three to four.
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
