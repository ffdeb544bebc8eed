-- Tasks, and versioned release models that pre-define task plans.

-- Exit criterion per phase: every task of the phase done or cancelled before it is completed.
ALTER TABLE phases ADD COLUMN require_tasks_done BOOLEAN NOT NULL DEFAULT TRUE;

CREATE TABLE release_models (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    retired     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Saving a model makes a new version; releases keep the version they were registered with.
CREATE TABLE release_model_versions (
    id           BIGSERIAL PRIMARY KEY,
    model_id     BIGINT NOT NULL REFERENCES release_models (id),
    version      INTEGER NOT NULL CHECK (version >= 1),
    description  TEXT NOT NULL DEFAULT '',
    release_type TEXT NOT NULL CHECK (release_type IN ('emergency', 'major', 'minor')),
    category_id  BIGINT NOT NULL REFERENCES categories (id),
    created_by   BIGINT REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (model_id, version)
);

CREATE TABLE model_tasks (
    id               BIGSERIAL PRIMARY KEY,
    model_version_id BIGINT NOT NULL REFERENCES release_model_versions (id),
    phase_id         BIGINT NOT NULL REFERENCES phases (id),
    position         INTEGER NOT NULL,
    title            TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description      TEXT NOT NULL DEFAULT '',
    -- Who gets the task: the release's coordinator or manager, or a group.
    assignee_role    TEXT CHECK (assignee_role IN ('coordinator', 'manager')),
    group_id         BIGINT REFERENCES groups (id),
    due_offset_hours INTEGER NOT NULL CHECK (due_offset_hours BETWEEN 0 AND 8760),
    CHECK (assignee_role IS NULL OR group_id IS NULL)
);
CREATE INDEX model_tasks_version ON model_tasks (model_version_id, position);

ALTER TABLE releases ADD COLUMN model_version_id BIGINT REFERENCES release_model_versions (id);

CREATE TABLE tasks (
    id               BIGSERIAL PRIMARY KEY,
    release_id       BIGINT NOT NULL REFERENCES releases (id),
    phase_id         BIGINT NOT NULL REFERENCES phases (id),
    title            TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description      TEXT NOT NULL DEFAULT '',
    assignee_id      BIGINT REFERENCES users (id),
    group_id         BIGINT REFERENCES groups (id),
    status           TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'done', 'cancelled')),
    -- From a model: the due date is set this long after its phase is entered.
    due_offset_hours INTEGER CHECK (due_offset_hours BETWEEN 0 AND 8760),
    due_at           TIMESTAMPTZ,
    completed_by     BIGINT REFERENCES users (id),
    completed_at     TIMESTAMPTZ,
    version          INTEGER NOT NULL DEFAULT 1,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX tasks_release_phase ON tasks (release_id, phase_id);
CREATE INDEX tasks_assignee_open ON tasks (assignee_id, due_at) WHERE status IN ('open', 'in_progress');
CREATE INDEX tasks_group_open ON tasks (group_id, due_at) WHERE status IN ('open', 'in_progress');

-- The out-of-box models.
INSERT INTO release_models (name) VALUES ('Major release'), ('Minor release'), ('Emergency fix');

INSERT INTO release_model_versions (model_id, version, description, release_type, category_id)
SELECT m.id, 1, d.description, d.release_type, c.id
FROM release_models m
JOIN (VALUES
  ('Major release', 'A major release: new functionality, full funding and training plan.', 'major'),
  ('Minor release', 'A minor release: small enhancements and fixes.', 'minor'),
  ('Emergency fix', 'An emergency fix: short, approved by the ECAB, durations in hours.', 'emergency')
) AS d(name, description, release_type) ON d.name = m.name
CROSS JOIN categories c WHERE c.name = 'Release Management';

INSERT INTO model_tasks (model_version_id, phase_id, position, title, description, assignee_role, due_offset_hours)
SELECT v.id, p.id, t.position, t.title, t.description, t.role, t.hours
FROM (VALUES
  ('Major release', 'Assess', 1, 'Risk and impact analysis', 'Assess the risk and the impact on services and configuration items.', 'coordinator', 72),
  ('Major release', 'Assess', 2, 'Confirm funding', 'Confirm the budget for the release with the service owner.', 'manager', 96),
  ('Major release', 'Assess', 3, 'Evaluate financial impact', 'Estimate costs and the financial impact of the release.', 'manager', 96),
  ('Major release', 'Plan and Design', 1, 'Create the release plan', 'Scope, schedule, resources and the deployment approach.', 'coordinator', 120),
  ('Major release', 'Plan and Design', 2, 'Arrange contracts and licences', 'Contracts with suppliers and the licences the release needs.', 'manager', 168),
  ('Major release', 'Build and Test', 1, 'Verify test criteria', 'Check the test results against the test criteria.', 'coordinator', 192),
  ('Major release', 'Training', 1, 'Build and deliver training', 'Training for users, the service desk and support staff.', 'coordinator', 96),
  ('Major release', 'Distribution and Rollout', 1, 'Update system', 'Deploy the release to production following the deployment plan.', 'coordinator', 48),
  ('Major release', 'Back Out', 1, 'Restore the previous version', 'Carry out the back-out plan.', 'coordinator', 24),
  ('Major release', 'Back Out', 2, 'Inform the service desk of the back-out', 'Tell the service desk what was backed out and why.', 'coordinator', 8),
  ('Major release', 'Verification', 1, 'Verify the implementation', 'Confirm the release works in production as intended.', 'coordinator', 48),
  ('Major release', 'Verification', 2, 'Knowledge transfer', 'Hand over documentation and knowledge to operations and support.', 'coordinator', 72),
  ('Major release', 'Verification', 3, 'Evaluate and close', 'Write the post-implementation evaluation and close the release.', 'coordinator', 96),
  ('Minor release', 'Assess', 1, 'Risk and impact analysis', 'Assess the risk and the impact on services.', 'coordinator', 48),
  ('Minor release', 'Plan and Design', 1, 'Create the release plan', 'Scope, schedule and deployment approach.', 'coordinator', 72),
  ('Minor release', 'Build and Test', 1, 'Verify test criteria', 'Check the test results against the test criteria.', 'coordinator', 120),
  ('Minor release', 'Distribution and Rollout', 1, 'Update system', 'Deploy the release to production.', 'coordinator', 24),
  ('Minor release', 'Back Out', 1, 'Restore the previous version', 'Carry out the back-out plan.', 'coordinator', 8),
  ('Minor release', 'Verification', 1, 'Verify the implementation', 'Confirm the release works in production.', 'coordinator', 24),
  ('Minor release', 'Verification', 2, 'Evaluate and close', 'Write the evaluation and close the release.', 'coordinator', 48),
  ('Emergency fix', 'Assess', 1, 'Risk and impact analysis', 'A quick assessment of risk and impact.', 'coordinator', 1),
  ('Emergency fix', 'Build and Test', 1, 'Verify test criteria', 'Confirm the fix passes the essential tests.', 'coordinator', 4),
  ('Emergency fix', 'Distribution and Rollout', 1, 'Update system', 'Deploy the fix to production.', 'coordinator', 2),
  ('Emergency fix', 'Back Out', 1, 'Restore the previous version', 'Carry out the back-out plan.', 'coordinator', 2),
  ('Emergency fix', 'Verification', 1, 'Verify the implementation', 'Confirm the fix works in production.', 'coordinator', 4),
  ('Emergency fix', 'Verification', 2, 'Evaluate and close', 'Write the evaluation and close.', 'coordinator', 8)
) AS t(model, phase, position, title, description, role, hours)
JOIN release_models m ON m.name = t.model
JOIN release_model_versions v ON v.model_id = m.id AND v.version = 1
JOIN categories c ON c.id = v.category_id
JOIN phases p ON p.workflow_id = c.workflow_id AND p.name = t.phase;
