-- One-time submission keys of the forms that create records (issue 23): a form carries a random
-- key; the first POST with it claims the key and creates, a second one finds the key taken and
-- is sent to what the first created. Keys older than two days are dropped as new ones come.
CREATE TABLE submissions (
    key          text PRIMARY KEY CHECK (length(key) BETWEEN 16 AND 64),
    user_id      bigint NOT NULL REFERENCES users (id),
    created_path text NOT NULL DEFAULT '',
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX submissions_at ON submissions (at);
