-- Signed-in sessions, so that signing out ends a session for good: the cookie carries this
-- row's id beside the user's id, and a copy of the cookie taken before sign-out finds no row.
CREATE TABLE user_sessions (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX user_sessions_user ON user_sessions (user_id, created_at);
