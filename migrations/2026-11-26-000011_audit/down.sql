DROP INDEX login_events_address_at; DROP TABLE admin_audit;
