DROP INDEX releases_active_dates;
