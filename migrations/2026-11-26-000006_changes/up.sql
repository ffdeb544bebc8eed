-- Change requests run on the same engine as releases: like the task table of the reference
-- products, one table of workflow records holds both kinds, so tasks, approvals, phase visits
-- and history (whose `release_id` columns name a record of either kind) work for both with
-- the same code. Releases relate changes and bundle other releases.

ALTER TABLE releases ADD COLUMN kind TEXT NOT NULL DEFAULT 'release' CHECK (kind IN ('release', 'change'));
ALTER TABLE releases DROP CONSTRAINT releases_release_type_check;
ALTER TABLE releases ADD CONSTRAINT releases_type_check CHECK (
    (kind = 'release' AND release_type IN ('emergency', 'major', 'minor'))
    OR (kind = 'change' AND release_type IN ('standard', 'normal', 'emergency')));
ALTER TABLE releases DROP CONSTRAINT releases_number_key;
ALTER TABLE releases ADD CONSTRAINT releases_kind_number_key UNIQUE (kind, number);
CREATE SEQUENCE change_number_seq;
-- A change belongs to at most one release; a release to at most one package (release).
ALTER TABLE releases ADD COLUMN related_release_id BIGINT REFERENCES releases (id);
ALTER TABLE releases ADD COLUMN package_id BIGINT REFERENCES releases (id);
ALTER TABLE releases ADD CONSTRAINT releases_relation_kinds CHECK (
    (kind = 'change' OR related_release_id IS NULL) AND (kind = 'release' OR package_id IS NULL)
    AND package_id IS DISTINCT FROM id);
CREATE INDEX releases_related_release ON releases (related_release_id) WHERE related_release_id IS NOT NULL;
CREATE INDEX releases_package ON releases (package_id) WHERE package_id IS NOT NULL;
CREATE INDEX releases_kind_number ON releases (kind, number DESC);

-- Exit criteria on related changes.
ALTER TABLE phases ADD COLUMN entry_requires_changes_approved BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE phases ADD COLUMN close_requires_changes_closed BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE phases SET entry_requires_changes_approved = TRUE
WHERE name = 'Distribution and Rollout' AND workflow_id = (SELECT id FROM workflows WHERE name = 'Release Management');
UPDATE phases SET close_requires_changes_closed = TRUE
WHERE name = 'Verification' AND workflow_id = (SELECT id FROM workflows WHERE name = 'Release Management');

-- The out-of-box change workflows.
INSERT INTO workflows (name, description, record_kind) VALUES
    ('Normal change', 'Registered, assessed, approved by the CAB, implemented, reviewed.', 'change'),
    ('Standard change', 'Pre-approved: registered, implemented, closed.', 'change'),
    ('Emergency change', 'Approved by the ECAB (one must approve), implemented, reviewed.', 'change');

INSERT INTO phases (workflow_id, name, description, position, duration_hours, emergency_duration_hours, condition)
SELECT w.id, p.name, p.description, p.position, p.hours, p.ehours, 'always'
FROM workflows w JOIN (VALUES
  ('Normal change', 'Registered', 'The request for change is recorded.', 1, 48, 2),
  ('Normal change', 'Assess', 'Risk and impact assessment.', 2, 72, 4),
  ('Normal change', 'Approve', 'The CAB decides.', 3, 120, 4),
  ('Normal change', 'Implement', 'Carry out the implementation plan.', 4, 120, 8),
  ('Normal change', 'Review', 'Post-implementation review, then close.', 5, 72, 8),
  ('Standard change', 'Registered', 'A pre-approved change is recorded.', 1, 24, 2),
  ('Standard change', 'Implement', 'Carry out the standard procedure.', 2, 48, 4),
  ('Emergency change', 'Registered', 'The emergency change is recorded.', 1, 2, 2),
  ('Emergency change', 'Approve', 'The ECAB decides: one must approve.', 2, 4, 4),
  ('Emergency change', 'Implement', 'Carry out the fix.', 3, 8, 8),
  ('Emergency change', 'Review', 'Review the emergency change, then close.', 4, 48, 48)
) AS p(workflow, name, description, position, hours, ehours) ON p.workflow = w.name;

INSERT INTO categories (name, description, record_kind, workflow_id)
SELECT w.name, w.description, 'change', w.id FROM workflows w WHERE w.record_kind = 'change';

-- Transitions: advance in order; close from the last phase; rework to any earlier phase;
-- abandon from every phase before Implement.
CREATE TEMPORARY TABLE ch_phase AS
SELECT p.id, p.name, p.position, p.workflow_id, w.name AS workflow,
       max(p.position) OVER (PARTITION BY p.workflow_id) AS last
FROM phases p JOIN workflows w ON w.id = p.workflow_id AND w.record_kind = 'change';

INSERT INTO transitions (workflow_id, from_phase_id, to_phase_id, kind, label, reason_required)
SELECT a.workflow_id, a.id, b.id, 'advance', 'Advance to ' || b.name, FALSE
FROM ch_phase a JOIN ch_phase b ON b.workflow_id = a.workflow_id AND b.position = a.position + 1;

INSERT INTO transitions (workflow_id, from_phase_id, to_phase_id, kind, label, reason_required, outcome)
SELECT a.workflow_id, a.id, NULL, 'close', 'Close change', FALSE, 'successful'
FROM ch_phase a WHERE a.position = a.last;

INSERT INTO transitions (workflow_id, from_phase_id, to_phase_id, kind, label, reason_required)
SELECT a.workflow_id, a.id, b.id, 'rework', 'Rework in ' || b.name, TRUE
FROM ch_phase a JOIN ch_phase b ON b.workflow_id = a.workflow_id AND b.position < a.position;

INSERT INTO transitions (workflow_id, from_phase_id, to_phase_id, kind, label, reason_required)
SELECT a.workflow_id, a.id, NULL, 'abandon', 'Abandon change', TRUE
FROM ch_phase a
WHERE a.position < (SELECT position FROM ch_phase i WHERE i.workflow_id = a.workflow_id AND i.name = 'Implement');

-- Field rules: H hidden, R read-only, E editable, Q required to leave.
WITH fields(field, ord) AS (
  SELECT f, o FROM unnest(ARRAY[
    'title', 'description', 'coordinator', 'affected_services', 'impact', 'urgency', 'risk',
    'planned_start', 'planned_end', 'deployment_plan', 'backout_plan', 'evaluation']) WITH ORDINALITY AS t(f, o)
), grid(workflow, phase, codes) AS (VALUES
  --                                        t d a s i u k p p i b r
  ('Normal change',    'Registered',       'QQEEQQEEEEEH'),
  ('Normal change',    'Assess',           'EEEEEEEQQQQH'),
  ('Normal change',    'Approve',          'RRERRRRRRRRH'),
  ('Normal change',    'Implement',        'RRERRRRRERER'),
  ('Normal change',    'Review',           'RRERRRRRRRRQ'),
  ('Standard change',  'Registered',       'QQEEEEEQQQEH'),
  ('Standard change',  'Implement',        'RRERRRRRRRRE'),
  ('Emergency change', 'Registered',       'QQEEQQEEEQEH'),
  ('Emergency change', 'Approve',          'RRERRRRRRRRH'),
  ('Emergency change', 'Implement',        'RRERRRRRERER'),
  ('Emergency change', 'Review',           'RRERRRRRRRRQ')
)
INSERT INTO phase_field_rules (phase_id, field, rule)
SELECT p.id, f.field,
       CASE substr(g.codes, f.ord::int, 1)
            WHEN 'H' THEN 'hidden' WHEN 'R' THEN 'readonly' WHEN 'E' THEN 'editable'
            WHEN 'Q' THEN 'required' WHEN 'N' THEN 'entry' END
FROM grid g
JOIN ch_phase p ON p.workflow = g.workflow AND p.name = g.phase
CROSS JOIN fields f;

-- Approvals: the CAB approves normal changes (all must approve), the ECAB emergency ones.
INSERT INTO phase_approvals (phase_id, group_id, rule, emergency_group_id, emergency_rule)
SELECT p.id, g.id, r.rule, ecab.id, 'one'
FROM (VALUES ('Normal change', 'CAB', 'all'), ('Emergency change', 'ECAB', 'one')) AS r(workflow, grp, rule)
JOIN ch_phase p ON p.workflow = r.workflow AND p.name = 'Approve'
JOIN groups g ON g.name = r.grp
CROSS JOIN groups ecab WHERE ecab.name = 'ECAB';

DROP TABLE ch_phase;
