-- An administrator may change their own roles and groups (there may be only one), but such an
-- entry is marked, with what changed, and the audit page shows it apart.
ALTER TABLE admin_audit ADD COLUMN own_access_change TEXT;
CREATE INDEX admin_audit_own_access ON admin_audit (id DESC) WHERE own_access_change IS NOT NULL;
