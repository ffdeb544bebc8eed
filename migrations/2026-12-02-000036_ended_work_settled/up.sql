-- Why a task was cancelled when the record's move settled it (issue 23: "release abandoned",
-- "release closed", "backed out"); empty for a task someone cancelled by hand.
ALTER TABLE tasks ADD COLUMN cancel_reason text NOT NULL DEFAULT '' CHECK (length(cancel_reason) <= 200);

-- The release (or change) types a phase applies to, on top of its condition; empty: every type.
-- Out of the box Training is for major and minor releases only (an emergency fix has no
-- training task and must not wait for "Training needs").
ALTER TABLE phases ADD COLUMN record_types text[] NOT NULL DEFAULT '{}';
UPDATE phases SET record_types = ARRAY['major', 'minor']
WHERE name = 'Training' AND workflow_id = (SELECT id FROM workflows WHERE name = 'Release Management');

-- A package may enter a phase only once its active members have reached it (issue 23): an
-- entry gate, on for the forward phases of the out-of-box release workflow.
ALTER TABLE phases ADD COLUMN entry_requires_members_reached boolean NOT NULL DEFAULT false;
UPDATE phases SET entry_requires_members_reached = true
WHERE name IN ('Plan and Design', 'Build and Test', 'Training', 'Distribution and Rollout', 'Verification')
  AND workflow_id = (SELECT id FROM workflows WHERE name = 'Release Management');
