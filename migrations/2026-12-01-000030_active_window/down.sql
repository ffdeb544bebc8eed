DROP INDEX releases_active_window;
