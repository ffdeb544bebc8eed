DROP INDEX releases_active_schedule;
