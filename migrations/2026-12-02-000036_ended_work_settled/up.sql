-- Why a task was cancelled when the record's move settled it (issue 23: "release abandoned",
-- "release closed", "backed out"); empty for a task someone cancelled by hand.
ALTER TABLE tasks ADD COLUMN cancel_reason text NOT NULL DEFAULT '' CHECK (length(cancel_reason) <= 200);
