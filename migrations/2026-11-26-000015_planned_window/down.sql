DROP INDEX releases_planned_window;
