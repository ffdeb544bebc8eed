-- The workflow engine (categories, workflows, phases, field rules, transitions),
-- releases, their phase visits, and the append-only history.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE workflows (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    description TEXT NOT NULL DEFAULT '',
    -- Which kind of record the workflow drives; the engine itself is shared.
    record_kind TEXT NOT NULL CHECK (record_kind IN ('release', 'change')),
    retired     BOOLEAN NOT NULL DEFAULT FALSE,
    -- A draft may be incomplete; publishing runs the validator, and only published
    -- workflows can be used by a category. Edits to a published workflow are validated too.
    draft       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE phases (
    id                       BIGSERIAL PRIMARY KEY,
    workflow_id              BIGINT NOT NULL REFERENCES workflows (id),
    name                     TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description              TEXT NOT NULL DEFAULT '',
    position                 INTEGER NOT NULL,
    -- Expected duration for Major/Minor (or any non-emergency record) and for Emergency.
    duration_hours           INTEGER NOT NULL CHECK (duration_hours BETWEEN 1 AND 8760),
    emergency_duration_hours INTEGER NOT NULL CHECK (emergency_duration_hours BETWEEN 1 AND 8760),
    condition                TEXT NOT NULL DEFAULT 'always'
                             CHECK (condition IN ('always', 'impact_and_urgency_high')),
    retired                  BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (workflow_id, name)
);
CREATE INDEX phases_workflow ON phases (workflow_id, position);

-- For each field of the record, how the phase's screen treats it:
-- hidden, readonly, editable, required (editable and must be filled to leave),
-- entry (shown read-only and must be filled before the phase can be entered).
CREATE TABLE phase_field_rules (
    phase_id BIGINT NOT NULL REFERENCES phases (id) ON DELETE CASCADE,
    field    TEXT NOT NULL,
    rule     TEXT NOT NULL CHECK (rule IN ('hidden', 'readonly', 'editable', 'required', 'entry')),
    PRIMARY KEY (phase_id, field)
);

CREATE TABLE transitions (
    id              BIGSERIAL PRIMARY KEY,
    workflow_id     BIGINT NOT NULL REFERENCES workflows (id),
    from_phase_id   BIGINT NOT NULL REFERENCES phases (id),
    -- NULL for abandon and close, which end the record.
    to_phase_id     BIGINT REFERENCES phases (id),
    kind            TEXT NOT NULL CHECK (kind IN ('advance', 'rework', 'abandon', 'back_out', 'close')),
    label           TEXT NOT NULL CHECK (length(label) BETWEEN 1 AND 100),
    roles           TEXT[] NOT NULL DEFAULT '{coordinator,manager}'
                    CHECK (roles <@ ARRAY['manager', 'coordinator', 'approver', 'admin']::TEXT[]),
    reason_required BOOLEAN NOT NULL DEFAULT FALSE,
    -- For close: how the record ends.
    outcome         TEXT CHECK (outcome IN ('successful', 'backed_out')),
    CHECK ((kind IN ('abandon', 'close')) = (to_phase_id IS NULL)),
    CHECK ((kind = 'close') = (outcome IS NOT NULL))
);
CREATE INDEX transitions_from ON transitions (from_phase_id);
CREATE INDEX transitions_workflow ON transitions (workflow_id);

CREATE TABLE categories (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    description TEXT NOT NULL DEFAULT '',
    record_kind TEXT NOT NULL CHECK (record_kind IN ('release', 'change')),
    workflow_id BIGINT NOT NULL REFERENCES workflows (id),
    retired     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE SEQUENCE release_number_seq;

CREATE TABLE releases (
    id                  BIGSERIAL PRIMARY KEY,
    number              BIGINT NOT NULL UNIQUE DEFAULT nextval('release_number_seq'),
    title               TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    release_type        TEXT NOT NULL CHECK (release_type IN ('emergency', 'major', 'minor')),
    category_id         BIGINT NOT NULL REFERENCES categories (id),
    workflow_id         BIGINT NOT NULL REFERENCES workflows (id),
    phase_id            BIGINT NOT NULL REFERENCES phases (id),
    state               TEXT NOT NULL DEFAULT 'active'
                        CHECK (state IN ('active', 'closed_successful', 'closed_backed_out', 'abandoned')),
    reason              TEXT NOT NULL CHECK (reason IN ('business_requirement', 'incident_problem',
                                                        'security', 'regulatory', 'other')),
    registered_by       BIGINT NOT NULL REFERENCES users (id),
    coordinator_id      BIGINT REFERENCES users (id),
    manager_id          BIGINT REFERENCES users (id),
    assignment_group_id BIGINT REFERENCES groups (id),
    impact              TEXT NOT NULL CHECK (impact IN ('low', 'medium', 'high')),
    urgency             TEXT NOT NULL CHECK (urgency IN ('low', 'medium', 'high')),
    risk                TEXT NOT NULL CHECK (risk IN ('low', 'medium', 'high', 'critical')),
    -- Set when risk differs from the impact x urgency matrix; says why.
    risk_override_reason TEXT,
    planned_start       TIMESTAMPTZ,
    planned_end         TIMESTAMPTZ,
    actual_start        TIMESTAMPTZ,
    actual_end          TIMESTAMPTZ,
    phase_entered_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    phase_due_at        TIMESTAMPTZ,
    -- Set once the back-out plan has been activated: the release can then only close as backed out.
    backed_out          BOOLEAN NOT NULL DEFAULT FALSE,
    -- Optimistic concurrency: every save and transition bumps it.
    version             INTEGER NOT NULL DEFAULT 1,
    closed_at           TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (planned_end IS NULL OR planned_start IS NULL OR planned_end >= planned_start),
    CHECK (actual_end IS NULL OR actual_start IS NULL OR actual_end >= actual_start)
);

-- The long texts of a release, one row per release: kept apart so lists read narrow rows.
CREATE TABLE release_details (
    release_id          BIGINT PRIMARY KEY REFERENCES releases (id),
    description         TEXT NOT NULL DEFAULT '',
    affected_services   TEXT NOT NULL DEFAULT '',
    release_plan        TEXT NOT NULL DEFAULT '',
    deployment_plan     TEXT NOT NULL DEFAULT '',
    test_criteria       TEXT NOT NULL DEFAULT '',
    test_result         TEXT NOT NULL DEFAULT '',
    backout_plan        TEXT NOT NULL DEFAULT '',
    training_needs      TEXT NOT NULL DEFAULT '',
    financial_impact    TEXT NOT NULL DEFAULT '',
    verification        TEXT NOT NULL DEFAULT '',
    evaluation          TEXT NOT NULL DEFAULT ''
);

CREATE INDEX releases_phase_number ON releases (phase_id, number DESC);
CREATE INDEX releases_state_number ON releases (state, number DESC);
CREATE INDEX releases_category_number ON releases (category_id, number DESC);
CREATE INDEX releases_type_number ON releases (release_type, number DESC);
CREATE INDEX releases_coordinator_number ON releases (coordinator_id, number DESC);
CREATE INDEX releases_planned_start ON releases (planned_start, number);
CREATE INDEX releases_planned_end ON releases (planned_end, number);
CREATE INDEX releases_updated ON releases (updated_at, number);
CREATE INDEX releases_title_trgm ON releases USING gin (title gin_trgm_ops);

-- One row per phase a release has been in (or skipped), for the progress bar and lead times.
CREATE TABLE release_phase_visits (
    id         BIGSERIAL PRIMARY KEY,
    release_id BIGINT NOT NULL REFERENCES releases (id),
    phase_id   BIGINT NOT NULL REFERENCES phases (id),
    status     TEXT NOT NULL CHECK (status IN ('current', 'left', 'skipped')),
    entered_at TIMESTAMPTZ NOT NULL,
    due_at     TIMESTAMPTZ,
    left_at    TIMESTAMPTZ
);
CREATE INDEX release_phase_visits_release ON release_phase_visits (release_id, id);

-- The history of every record: append-only (the triggers below refuse UPDATE and DELETE).
CREATE TABLE history_events (
    id            BIGSERIAL PRIMARY KEY,
    release_id    BIGINT REFERENCES releases (id),
    actor_id      BIGINT REFERENCES users (id),
    at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The record's version after this event: a stale form finds what changed since it was read.
    record_version INTEGER NOT NULL DEFAULT 0,
    kind          TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 40),
    summary       TEXT NOT NULL DEFAULT '',
    from_phase_id BIGINT REFERENCES phases (id),
    to_phase_id   BIGINT REFERENCES phases (id),
    reason        TEXT
);
CREATE INDEX history_events_release ON history_events (release_id, id);

CREATE TABLE history_field_changes (
    id        BIGSERIAL PRIMARY KEY,
    event_id  BIGINT NOT NULL REFERENCES history_events (id),
    field     TEXT NOT NULL,
    old_value TEXT NOT NULL,
    new_value TEXT NOT NULL
);
CREATE INDEX history_field_changes_event ON history_field_changes (event_id);

CREATE FUNCTION refuse_history_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'history is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END $$;
CREATE TRIGGER history_events_append_only BEFORE UPDATE OR DELETE ON history_events
    FOR EACH ROW EXECUTE FUNCTION refuse_history_rewrite();
CREATE TRIGGER history_field_changes_append_only BEFORE UPDATE OR DELETE ON history_field_changes
    FOR EACH ROW EXECUTE FUNCTION refuse_history_rewrite();

-- The out-of-box configuration: the Release Management workflow and category.
INSERT INTO workflows (name, description, record_kind) VALUES
    ('Release Management', 'The standard release process: one for every release type.', 'release');

INSERT INTO phases (workflow_id, name, description, position, duration_hours, emergency_duration_hours, condition)
SELECT w.id, p.name, p.description, p.position, p.days * 24, p.hours, p.condition
FROM workflows w,
(VALUES
  ('Assess', 'Registration, risk and impact analysis.', 1, 5, 2, 'always'),
  ('Plan and Design', 'Release plan, schedule and deployment plan; CAB approval to leave.', 2, 10, 4, 'always'),
  ('Build and Test', 'Build the release and test it against the test criteria; CAB approval to leave.', 3, 10, 8, 'always'),
  ('Training', 'Build and deliver training: only when impact and urgency are both high.', 4, 5, 4, 'impact_and_urgency_high'),
  ('Distribution and Rollout', 'Deploy the release; the back-out plan must be in place.', 5, 3, 4, 'always'),
  ('Back Out', 'Entered only by activating the back-out plan.', 6, 2, 4, 'always'),
  ('Verification', 'Verify the implementation, write the evaluation, close.', 7, 5, 8, 'always')
) AS p(name, description, position, days, hours, condition)
WHERE w.name = 'Release Management';

INSERT INTO categories (name, description, record_kind, workflow_id)
SELECT 'Release Management', 'Used by Emergency, Major and Minor releases.', 'release', id
FROM workflows WHERE name = 'Release Management';

-- Field rules, one row per phase: columns in the order of the field list below.
-- H hidden, R read-only, E editable, Q required to leave, N required to enter (read-only).
WITH fields(field, ord) AS (
  SELECT f, o FROM unnest(ARRAY[
    'title', 'description', 'reason', 'coordinator', 'manager', 'assignment_group',
    'affected_services', 'impact', 'urgency', 'risk', 'planned_start', 'planned_end',
    'actual_start', 'actual_end', 'release_plan', 'deployment_plan', 'test_criteria',
    'test_result', 'backout_plan', 'training_needs', 'financial_impact', 'verification',
    'evaluation']) WITH ORDINALITY AS t(f, o)
), grid(phase, codes) AS (VALUES
  --                          t d r c m g s i u k p p a a r d t t b t f v e
  ('Assess',                  'QQEEEEEQQEEEHHEHHHHHEHH'),
  ('Plan and Design',         'EEEEEEEEEEQQHHQQQHEEEHH'),
  ('Build and Test',          'REREEEERRRREEHRERQEERHH'),
  ('Training',                'RRREEERRRRREEHRRRREQRHH'),
  ('Distribution and Rollout','RRREEERRRRREQERRRRNRRHH'),
  ('Back Out',                'RRREEERRRRRRRERRRRRRRHE'),
  ('Verification',            'RRREEERRRRRRRQRRRRRRRQQ')
)
INSERT INTO phase_field_rules (phase_id, field, rule)
SELECT p.id, f.field,
       CASE substr(g.codes, f.ord::int, 1)
            WHEN 'H' THEN 'hidden' WHEN 'R' THEN 'readonly' WHEN 'E' THEN 'editable'
            WHEN 'Q' THEN 'required' WHEN 'N' THEN 'entry' END
FROM grid g
JOIN phases p ON p.name = g.phase
JOIN workflows w ON w.id = p.workflow_id AND w.name = 'Release Management'
CROSS JOIN fields f;

-- Transitions of the Release Management workflow.
CREATE TEMPORARY TABLE rm_phase AS
SELECT p.id, p.name, p.position, p.workflow_id FROM phases p
JOIN workflows w ON w.id = p.workflow_id AND w.name = 'Release Management';

INSERT INTO transitions (workflow_id, from_phase_id, to_phase_id, kind, label, reason_required)
SELECT a.workflow_id, a.id, b.id, 'advance', 'Advance to ' || b.name, FALSE
FROM rm_phase a JOIN rm_phase b ON (a.name, b.name) IN (
    ('Assess', 'Plan and Design'), ('Plan and Design', 'Build and Test'),
    ('Build and Test', 'Training'), ('Training', 'Distribution and Rollout'),
    ('Distribution and Rollout', 'Verification'), ('Back Out', 'Verification'));

INSERT INTO transitions (workflow_id, from_phase_id, to_phase_id, kind, label, reason_required)
SELECT a.workflow_id, a.id, b.id, 'back_out', 'Activate back-out plan', TRUE
FROM rm_phase a JOIN rm_phase b ON a.name = 'Distribution and Rollout' AND b.name = 'Back Out';

-- Rework from every phase to any earlier one; Back Out is entered only by the back-out plan.
INSERT INTO transitions (workflow_id, from_phase_id, to_phase_id, kind, label, reason_required)
SELECT a.workflow_id, a.id, b.id, 'rework', 'Rework in ' || b.name, TRUE
FROM rm_phase a JOIN rm_phase b ON b.position < a.position AND b.name <> 'Back Out';

-- Abandon from every phase but Training.
INSERT INTO transitions (workflow_id, from_phase_id, to_phase_id, kind, label, reason_required)
SELECT a.workflow_id, a.id, NULL, 'abandon', 'Abandon release', TRUE
FROM rm_phase a WHERE a.name <> 'Training';

INSERT INTO transitions (workflow_id, from_phase_id, to_phase_id, kind, label, reason_required, outcome)
SELECT a.workflow_id, a.id, NULL, 'close', o.label, FALSE, o.outcome
FROM rm_phase a, (VALUES ('Close as successful', 'successful'), ('Close as backed out', 'backed_out')) AS o(label, outcome)
WHERE a.name = 'Verification';

DROP TABLE rm_phase;
