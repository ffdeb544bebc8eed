-- A record entering a phase that needs an approval: the approval is opened and its log says
-- it was requested, and the people Relman chooses its voters from come back in the same
-- statement (services::approvals::open_as_configured): the active approvers of the group, by
-- name, and the record's task assignees (separation of duties, domain::approval, leaves them
-- out). One round trip instead of four on every entry to such a phase.
CREATE FUNCTION open_approval(rec bigint, in_phase bigint, grp bigint, approval_rule text, quorum integer, actor bigint,
                              OUT approval_id bigint, OUT approvers bigint[], OUT assignees bigint[])
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO approvals (release_id, phase_id, group_id, rule, quorum_count)
    VALUES (rec, in_phase, grp, approval_rule, quorum)
    RETURNING id INTO approval_id;
    INSERT INTO approval_log (approval_id, cycle, actor_id, action, comment)
    VALUES (approval_id, 1, actor, 'requested', '');
    approvers := ARRAY(SELECT u.id FROM group_members m JOIN users u ON u.id = m.user_id
                       WHERE m.group_id = grp AND u.active AND u.roles @> ARRAY['approver']
                       ORDER BY u.display_name, u.id);
    assignees := ARRAY(SELECT assignee_id FROM tasks WHERE release_id = rec AND assignee_id IS NOT NULL);
END $$;
