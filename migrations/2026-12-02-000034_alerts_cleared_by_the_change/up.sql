-- An alert is cleared by the change that resolves its cause, in that change's transaction,
-- instead of by the deadline monitor re-checking every open alert each minute: at a million
-- releases that check looked up 26,000 releases and 10,000 tasks by key every pass (0.35 s
-- warm, 1 s cold, 5 s under load, and every page served meanwhile waited for the CPU and the
-- disk it took). Time alone never resolves a cause (a due date once passed stays passed), so
-- only these changes can: the release ended or moved on, its phase's due date or its planned
-- end moved, the task was done, cancelled, re-dated or deleted. The monitor still sweeps
-- every open alert at its start and hourly, for changes made with triggers off.

CREATE FUNCTION clear_resolved_release_alerts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE alerts a SET cleared_at = now()
   WHERE a.release_id = NEW.id AND a.cleared_at IS NULL
     AND (NEW.state <> 'active'
          OR (a.kind = 'phase_overdue'
              AND (NEW.phase_id <> a.subject_id OR NEW.phase_due_at IS NULL OR NEW.phase_due_at >= now()))
          OR (a.kind = 'release_overdue' AND (NEW.planned_end IS NULL OR NEW.planned_end >= now())));
  RETURN NULL;
END $$;

CREATE TRIGGER releases_clear_resolved_alerts
  AFTER UPDATE OF state, phase_id, phase_due_at, planned_end ON releases
  FOR EACH ROW
  -- Only where an alert can be open (the monitor raises one only for an active release whose
  -- date has passed, and a passed date stays passed), so that most moves run no function.
  WHEN (OLD.state = 'active' AND (
          OLD.state IS DISTINCT FROM NEW.state
       OR ((OLD.phase_id IS DISTINCT FROM NEW.phase_id OR OLD.phase_due_at IS DISTINCT FROM NEW.phase_due_at)
           AND OLD.phase_due_at < now())
       OR (OLD.planned_end IS DISTINCT FROM NEW.planned_end AND OLD.planned_end < now())))
  EXECUTE FUNCTION clear_resolved_release_alerts();

CREATE FUNCTION clear_resolved_task_alerts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    UPDATE alerts a SET cleared_at = now()
     WHERE a.release_id = OLD.release_id AND a.kind = 'task_overdue' AND a.subject_id = OLD.id
       AND a.cleared_at IS NULL;
  ELSE
    UPDATE alerts a SET cleared_at = now()
     WHERE a.release_id = NEW.release_id AND a.kind = 'task_overdue' AND a.subject_id = NEW.id
       AND a.cleared_at IS NULL
       AND NOT (NEW.status IN ('open', 'in_progress') AND NEW.due_at IS NOT NULL AND NEW.due_at < now());
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER tasks_clear_resolved_alerts
  AFTER UPDATE OF status, due_at ON tasks
  FOR EACH ROW
  -- Only a task that was open and late can have an alert (not the tasks a move dates).
  WHEN (OLD.status IN ('open', 'in_progress') AND OLD.due_at < now()
        AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.due_at IS DISTINCT FROM NEW.due_at))
  EXECUTE FUNCTION clear_resolved_task_alerts();

CREATE TRIGGER tasks_clear_alerts_when_deleted
  AFTER DELETE ON tasks
  FOR EACH ROW
  EXECUTE FUNCTION clear_resolved_task_alerts();
