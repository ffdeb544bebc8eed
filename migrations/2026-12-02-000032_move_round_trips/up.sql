-- A move's statements, two fewer round trips (docs/performance.md, 2026-12-02):
-- * record_transition (migration 000026) also returns the open tasks of the phase entered,
--   with their people, read after the move has set their due dates: the move read them in
--   the next statement (models::tasks::open_in_phase_with_people), one round trip a move.
-- * the open tasks of the record's current phase are counted with its row lock
--   (models::releases::with_details_for_update), for the exit criterion "all tasks done":
--   an advance read them in a statement of their own.
DROP FUNCTION record_transition(bigint, timestamptz, boolean, bigint, timestamptz, timestamptz, text, timestamptz,
                                boolean, integer, bigint, bigint, text, text, text, text, text);

-- The transition's writes as before; then, when a phase was entered, its open tasks in id
-- order as a JSON array of {"title", "due_at", "people"}: the assignee, or else every member
-- of the task's group. NULL when the record was not moved.
CREATE FUNCTION record_transition(rec bigint, at timestamptz, entered boolean, new_phase bigint, phase_since timestamptz,
                                  phase_due timestamptz, new_state text, ended timestamptz, is_backed_out boolean,
                                  new_version integer, actor bigint, left_phase bigint, event_kind text,
                                  event_summary text, event_reason text, prev_hash text, event_hash text)
RETURNS text LANGUAGE plpgsql AS $$
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
    IF moved <> 1 THEN
        RETURN NULL;
    END IF;
    INSERT INTO history_events (at, prev_hash, hash, release_id, actor_id, record_version, kind, summary,
                                from_phase_id, to_phase_id, reason)
    VALUES (at, prev_hash, event_hash, rec, actor, new_version, event_kind, event_summary,
            left_phase, CASE WHEN entered THEN new_phase END, event_reason);
    IF NOT entered THEN
        RETURN '[]';
    END IF;
    RETURN coalesce((
        SELECT json_agg(json_build_object(
                   'title', t.title,
                   'due_at', t.due_at,
                   'people', CASE WHEN t.assignee_id IS NOT NULL THEN ARRAY[t.assignee_id]
                                  ELSE ARRAY(SELECT m.user_id FROM group_members m
                                             WHERE m.group_id = t.group_id ORDER BY m.user_id) END)
                   ORDER BY t.id)
        FROM tasks t
        WHERE t.release_id = rec AND t.phase_id = new_phase AND t.status IN ('open', 'in_progress')), '[]');
END $$;

-- The open tasks of a record's phase (the lock's statement reads them for its current phase).
CREATE FUNCTION release_open_tasks(rec bigint, phase bigint) RETURNS bigint LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT count(*) FROM tasks WHERE release_id = rec AND phase_id = phase AND status IN ('open', 'in_progress'));
END $$;
