-- Notifications (in-app, and e-mail through an outbox filled in the same transaction),
-- watchers, and deadline alerts raised once by the monitor.

CREATE TABLE notifications (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    release_id BIGINT REFERENCES releases (id),
    kind       TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 40),
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '',
    -- A path inside Relman; e-mails make it absolute with RELMAN_BASE_URL.
    link       TEXT NOT NULL DEFAULT '/',
    read_at    TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user ON notifications (user_id, id DESC);
CREATE INDEX notifications_unread ON notifications (user_id) WHERE read_at IS NULL;

CREATE TABLE watchers (
    release_id BIGINT NOT NULL REFERENCES releases (id),
    user_id    BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (release_id, user_id)
);
CREATE INDEX watchers_user ON watchers (user_id);

CREATE TABLE mail_outbox (
    id              BIGSERIAL PRIMARY KEY,
    notification_id BIGINT REFERENCES notifications (id),
    to_address      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    link            TEXT NOT NULL DEFAULT '/',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL;

CREATE TABLE alerts (
    id         BIGSERIAL PRIMARY KEY,
    release_id BIGINT NOT NULL REFERENCES releases (id),
    kind       TEXT NOT NULL CHECK (kind IN ('phase_overdue', 'task_overdue', 'release_overdue')),
    -- What is late: the phase (phase_overdue) or the task (task_overdue); 0 when not applicable.
    subject_id BIGINT NOT NULL DEFAULT 0,
    detail     TEXT NOT NULL,
    raised_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    cleared_at TIMESTAMPTZ
);
-- One open alert per cause, whatever the number of monitors racing to raise it.
CREATE UNIQUE INDEX alerts_one_open ON alerts (release_id, kind, subject_id) WHERE cleared_at IS NULL;
CREATE INDEX alerts_open ON alerts (raised_at) WHERE cleared_at IS NULL;

CREATE INDEX releases_active_phase_due ON releases (phase_due_at) WHERE state = 'active';
CREATE INDEX releases_active_planned_end ON releases (planned_end) WHERE state = 'active';
CREATE INDEX tasks_open_due ON tasks (due_at) WHERE status IN ('open', 'in_progress');

-- Blackout windows hold entering the phases that deploy (unless the release is an emergency).
ALTER TABLE phases ADD COLUMN blocked_by_blackouts BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE phases SET blocked_by_blackouts = TRUE
WHERE name = 'Distribution and Rollout' AND workflow_id = (SELECT id FROM workflows WHERE name = 'Release Management');
