-- The audit of administrative actions: every successful change under /admin, by whom, when.
CREATE TABLE admin_audit (
    id       BIGSERIAL PRIMARY KEY,
    actor_id BIGINT REFERENCES users (id),
    action   TEXT NOT NULL,
    address  TEXT NOT NULL,
    at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX admin_audit_at ON admin_audit (id DESC);
CREATE TRIGGER admin_audit_append_only BEFORE UPDATE OR DELETE ON admin_audit
    FOR EACH ROW EXECUTE FUNCTION refuse_history_rewrite();
CREATE INDEX login_events_address_at ON login_events (address, at DESC);
