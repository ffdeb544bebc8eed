-- Separation of duties over the life of an approval round (issue 22): who started a task (whoever
-- worked a task may not approve its record), whether an approval requirement lets the groups
-- tasks are assigned to approve their own work (copied onto each approval it opens), the parts a
-- voter played in the record when voting, and a vote found void later in its round (it stays void).
ALTER TABLE tasks ADD COLUMN started_by bigint REFERENCES users (id);
ALTER TABLE phase_approvals ADD COLUMN own_group_may_approve boolean NOT NULL DEFAULT false;
ALTER TABLE approvals ADD COLUMN own_group_may_approve boolean NOT NULL DEFAULT false;
ALTER TABLE approval_votes ADD COLUMN voter_parts text[] NOT NULL DEFAULT '{}',
    ADD COLUMN void_part text,
    ADD CONSTRAINT approval_votes_parts_known CHECK (voter_parts <@ ARRAY['registrant', 'coordinator', 'manager', 'assignee', 'worker', 'group_member']
        AND (void_part IS NULL OR void_part = ANY (ARRAY['registrant', 'coordinator', 'manager', 'assignee', 'worker', 'group_member'])));

ALTER TABLE approval_log DROP CONSTRAINT approval_log_action_check;
ALTER TABLE approval_log ADD CONSTRAINT approval_log_action_check
    CHECK (action IN ('requested', 'approve', 'deny', 'retract', 'approved', 'denied', 'withdrawn', 'void', 'reopened'));

-- open_approval (000033) with the requirement's own-group rule; the voters are chosen in Relman
-- from everyone the record involves (services::approvals::involvement), so it no longer returns
-- the task assignees.
DROP FUNCTION open_approval(bigint, bigint, bigint, text, integer, bigint);
CREATE FUNCTION open_approval(rec bigint, in_phase bigint, grp bigint, approval_rule text, quorum integer, actor bigint,
                              own_group boolean, OUT approval_id bigint, OUT approvers bigint[])
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO approvals (release_id, phase_id, group_id, rule, quorum_count, own_group_may_approve)
    VALUES (rec, in_phase, grp, approval_rule, quorum, own_group)
    RETURNING id INTO approval_id;
    INSERT INTO approval_log (approval_id, cycle, actor_id, action, comment)
    VALUES (approval_id, 1, actor, 'requested', '');
    approvers := ARRAY(SELECT u.id FROM group_members m
                       CROSS JOIN LATERAL (SELECT id, display_name FROM users
                                           WHERE id = m.user_id AND active AND roles @> ARRAY['approver'] OFFSET 0) u
                       WHERE m.group_id = grp
                       ORDER BY u.display_name, u.id);
END $$;
