-- CAB approvals: per-phase requirements, approval cycles, votes (one per voter per cycle,
-- enforced here), the full log, and delegation.

CREATE TABLE phase_approvals (
    phase_id           BIGINT PRIMARY KEY REFERENCES phases (id) ON DELETE CASCADE,
    group_id           BIGINT NOT NULL REFERENCES groups (id),
    rule               TEXT NOT NULL DEFAULT 'all'
                       CHECK (rule IN ('all', 'one', 'quorum', 'all_immediate_denial')),
    -- For quorum: how many approvals; NULL means more than half of the eligible voters.
    quorum_count       INTEGER CHECK (quorum_count BETWEEN 1 AND 1000),
    -- Emergency records go to this group under this rule instead.
    emergency_group_id BIGINT REFERENCES groups (id),
    emergency_rule     TEXT NOT NULL DEFAULT 'one'
                       CHECK (emergency_rule IN ('all', 'one', 'quorum', 'all_immediate_denial'))
);

CREATE TABLE approvals (
    id           BIGSERIAL PRIMARY KEY,
    release_id   BIGINT NOT NULL REFERENCES releases (id),
    phase_id     BIGINT NOT NULL REFERENCES phases (id),
    group_id     BIGINT NOT NULL REFERENCES groups (id),
    rule         TEXT NOT NULL CHECK (rule IN ('all', 'one', 'quorum', 'all_immediate_denial')),
    quorum_count INTEGER,
    cycle        INTEGER NOT NULL DEFAULT 1 CHECK (cycle >= 1),
    -- withdrawn: the record left the phase (rework, abandon) before a decision.
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'withdrawn')),
    opened_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    decided_at   TIMESTAMPTZ
);
-- At most one live approval per record and phase.
CREATE UNIQUE INDEX approvals_one_live ON approvals (release_id, phase_id) WHERE status IN ('pending', 'denied');
CREATE INDEX approvals_release ON approvals (release_id, id);
CREATE INDEX approvals_pending_group ON approvals (group_id) WHERE status = 'pending';

CREATE TABLE approval_votes (
    id          BIGSERIAL PRIMARY KEY,
    approval_id BIGINT NOT NULL REFERENCES approvals (id),
    cycle       INTEGER NOT NULL,
    -- Whose vote it is (the delegator when a delegate votes for them) ...
    voter_id    BIGINT NOT NULL REFERENCES users (id),
    -- ... and who cast it.
    cast_by     BIGINT NOT NULL REFERENCES users (id),
    decision    TEXT NOT NULL CHECK (decision IN ('approve', 'deny')),
    comment     TEXT NOT NULL DEFAULT '',
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A vote counts once per voter and cycle, whatever the code does.
    UNIQUE (approval_id, cycle, voter_id)
);

CREATE TABLE approval_log (
    id              BIGSERIAL PRIMARY KEY,
    approval_id     BIGINT NOT NULL REFERENCES approvals (id),
    cycle           INTEGER NOT NULL,
    actor_id        BIGINT REFERENCES users (id),
    on_behalf_of_id BIGINT REFERENCES users (id),
    action          TEXT NOT NULL CHECK (action IN ('requested', 'approve', 'deny', 'retract', 'approved', 'denied', 'withdrawn')),
    comment         TEXT NOT NULL DEFAULT '',
    at              TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX approval_log_approval ON approval_log (approval_id, id);
CREATE INDEX approval_log_actor ON approval_log (actor_id, id DESC);
CREATE TRIGGER approval_log_append_only BEFORE UPDATE OR DELETE ON approval_log
    FOR EACH ROW EXECUTE FUNCTION refuse_history_rewrite();

CREATE TABLE delegations (
    id           BIGSERIAL PRIMARY KEY,
    delegator_id BIGINT NOT NULL REFERENCES users (id),
    delegate_id  BIGINT NOT NULL REFERENCES users (id),
    starts_on    DATE NOT NULL,
    ends_on      DATE NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (ends_on >= starts_on),
    CHECK (delegator_id <> delegate_id)
);
CREATE INDEX delegations_delegate ON delegations (delegate_id, ends_on);
CREATE INDEX delegations_delegator ON delegations (delegator_id, ends_on);

-- Out of the box: leaving Plan and Design needs the CAB (all must approve), leaving Build and
-- Test the CAB (quorum: more than half), Distribution and Rollout to Verification the CAB
-- (one must approve). Emergency releases go to the ECAB, one must approve.
INSERT INTO phase_approvals (phase_id, group_id, rule, quorum_count, emergency_group_id, emergency_rule)
SELECT p.id, cab.id, r.rule, NULL, ecab.id, 'one'
FROM (VALUES ('Plan and Design', 'all'), ('Build and Test', 'quorum'), ('Distribution and Rollout', 'one')) AS r(phase, rule)
JOIN phases p ON p.name = r.phase
JOIN workflows w ON w.id = p.workflow_id AND w.name = 'Release Management'
CROSS JOIN groups cab
CROSS JOIN groups ecab
WHERE cab.name = 'CAB' AND ecab.name = 'ECAB';
