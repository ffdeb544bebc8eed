-- Accounts, roles, groups and the sign-in log.

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    display_name  TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    email         TEXT CHECK (email IS NULL OR length(email) BETWEEN 3 AND 254),
    password_hash TEXT NOT NULL,
    -- Roles a user holds; a user may hold several.
    roles         TEXT[] NOT NULL DEFAULT '{}'
                  CHECK (roles <@ ARRAY['manager', 'coordinator', 'approver', 'admin']::TEXT[]),
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    -- Bumped when the password changes or is reset: older sessions stop working.
    session_epoch INTEGER NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE groups (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE group_members (
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- Every sign-in, failure and lock-out, by the name that was typed (so unknown
-- names are throttled exactly like known ones and reveal nothing).
CREATE TABLE login_events (
    id       BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL,
    user_id  BIGINT REFERENCES users (id) ON DELETE SET NULL,
    outcome  TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'locked')),
    address  TEXT NOT NULL,
    at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX login_events_username_at ON login_events (username, at DESC);

INSERT INTO groups (name, description) VALUES
    ('CAB', 'Change Advisory Board: approves releases at the phase gates'),
    ('ECAB', 'Emergency Change Advisory Board: approves emergency releases');
