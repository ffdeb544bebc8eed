-- A record is in one phase at a time: its current visit, found by this index instead of by
-- reading every visit of the record (a record reworked many times has hundreds).
CREATE UNIQUE INDEX release_phase_visits_current ON release_phase_visits (release_id) WHERE status = 'current';

-- The writes of a phase move, decided by Relman (services::releases), in one statement: the
-- current visit is left, the phase entered (when `entered`) gets its visit and its open tasks
-- their due dates (each its offset in hours after entry), and the record's row takes the
-- phase, state and version it now has. PL/pgSQL, so the plans of its statements are kept for
-- the session: Diesel prepares no UPDATE, and planning them anew was a fifth of a
-- transition's work in the database.
CREATE FUNCTION record_moved(rec bigint, at timestamptz, entered boolean, new_phase bigint, phase_since timestamptz,
                             phase_due timestamptz, new_state text, ended timestamptz, is_backed_out boolean, new_version integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    moved integer;
BEGIN
    UPDATE release_phase_visits SET status = 'left', left_at = at WHERE release_id = rec AND status = 'current';
    IF entered THEN
        INSERT INTO release_phase_visits (release_id, phase_id, status, entered_at, due_at)
        VALUES (rec, new_phase, 'current', at, phase_due);
        UPDATE tasks SET due_at = at + due_offset_hours * interval '1 hour', updated_at = at
        WHERE release_id = rec AND phase_id = new_phase AND status IN ('open', 'in_progress') AND due_offset_hours IS NOT NULL;
    END IF;
    UPDATE releases
    SET phase_id = new_phase, phase_entered_at = phase_since, phase_due_at = phase_due, state = new_state,
        closed_at = ended, backed_out = is_backed_out, version = new_version, updated_at = at
    WHERE id = rec;
    GET DIAGNOSTICS moved = ROW_COUNT;
    RETURN moved;
END $$;
