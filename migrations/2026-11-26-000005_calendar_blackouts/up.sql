-- The release calendar: blackout windows (no releases then, of one category or of all), and
-- each user's secret calendar-feed token (calendar apps cannot sign in).

CREATE TABLE blackouts (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    starts_at   TIMESTAMPTZ NOT NULL,
    ends_at     TIMESTAMPTZ NOT NULL,
    -- NULL: the blackout applies to every category.
    category_id BIGINT REFERENCES categories (id),
    created_by  BIGINT NOT NULL REFERENCES users (id),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX blackouts_window ON blackouts (starts_at, ends_at);

-- The token itself (not a hash): the owner is shown the feed's address on their account page
-- whenever they look. It only reads the schedule, and regenerating it revokes the old one.
ALTER TABLE users ADD COLUMN calendar_token TEXT UNIQUE;
