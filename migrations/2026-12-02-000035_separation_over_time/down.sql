DROP FUNCTION open_approval(bigint, bigint, bigint, text, integer, bigint, boolean);
CREATE FUNCTION open_approval(rec bigint, in_phase bigint, grp bigint, approval_rule text, quorum integer, actor bigint,
                                         OUT approval_id bigint, OUT approvers bigint[], OUT assignees bigint[])
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO approvals (release_id, phase_id, group_id, rule, quorum_count)
    VALUES (rec, in_phase, grp, approval_rule, quorum)
    RETURNING id INTO approval_id;
    INSERT INTO approval_log (approval_id, cycle, actor_id, action, comment)
    VALUES (approval_id, 1, actor, 'requested', '');
    approvers := ARRAY(SELECT u.id FROM group_members m
                       CROSS JOIN LATERAL (SELECT id, display_name FROM users
                                           WHERE id = m.user_id AND active AND roles @> ARRAY['approver'] OFFSET 0) u
                       WHERE m.group_id = grp
                       ORDER BY u.display_name, u.id);
    assignees := ARRAY(SELECT assignee_id FROM tasks WHERE release_id = rec AND assignee_id IS NOT NULL);
END $$;
ALTER TABLE approval_log DROP CONSTRAINT approval_log_action_check;
DELETE FROM approval_log WHERE action IN ('void', 'reopened');
ALTER TABLE approval_log ADD CONSTRAINT approval_log_action_check
    CHECK (action IN ('requested', 'approve', 'deny', 'retract', 'approved', 'denied', 'withdrawn'));
ALTER TABLE approval_votes DROP CONSTRAINT approval_votes_parts_known, DROP COLUMN void_part, DROP COLUMN voter_parts;
ALTER TABLE approvals DROP COLUMN own_group_may_approve;
ALTER TABLE phase_approvals DROP COLUMN own_group_may_approve;
ALTER TABLE tasks DROP COLUMN started_by;
