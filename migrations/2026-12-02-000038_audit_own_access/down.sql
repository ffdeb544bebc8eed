DROP INDEX admin_audit_own_access;
ALTER TABLE admin_audit DROP COLUMN own_access_change;
