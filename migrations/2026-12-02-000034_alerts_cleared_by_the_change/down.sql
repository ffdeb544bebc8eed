DROP TRIGGER tasks_clear_alerts_when_deleted ON tasks;
DROP TRIGGER tasks_clear_resolved_alerts ON tasks;
DROP FUNCTION clear_resolved_task_alerts();
DROP TRIGGER releases_clear_resolved_alerts ON releases;
DROP FUNCTION clear_resolved_release_alerts();
