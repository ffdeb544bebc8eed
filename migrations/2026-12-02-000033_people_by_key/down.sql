CREATE OR REPLACE FUNCTION notify_notes(recipients bigint[], note_of integer[], about bigint[], note_kind text[],
                                        note_subject text[], note_body text[], note_link text[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    sent integer;
BEGIN
    IF coalesce(current_setting('relman.mail', true), '') <> 'on' THEN
        INSERT INTO notifications (user_id, release_id, kind, subject, body, link)
        SELECT u.id, about[w.i], note_kind[w.i], note_subject[w.i], note_body[w.i], note_link[w.i]
        FROM unnest(recipients, note_of) WITH ORDINALITY AS w (user_id, i, pos)
        JOIN users u ON u.id = w.user_id AND u.active
        ORDER BY w.pos;
        GET DIAGNOSTICS sent = ROW_COUNT;
        RETURN sent;
    END IF;
    WITH people AS (
        SELECT w.pos, w.i, u.id
        FROM unnest(recipients, note_of) WITH ORDINALITY AS w (user_id, i, pos)
        JOIN users u ON u.id = w.user_id AND u.active
    ), inserted AS (
        INSERT INTO notifications (user_id, release_id, kind, subject, body, link)
        SELECT id, about[i], note_kind[i], note_subject[i], note_body[i], note_link[i] FROM people ORDER BY pos
        RETURNING id, user_id, subject, body, link
    ), mailed AS (
        INSERT INTO mail_outbox (notification_id, to_address, subject, text_body, link)
        SELECT n.id, p.email, n.subject, n.body, n.link
        FROM inserted n JOIN users p ON p.id = n.user_id
        WHERE coalesce(p.email, '') <> ''
        ORDER BY n.id
    )
    SELECT count(*) INTO sent FROM inserted;
    RETURN sent;
END $$;

CREATE OR REPLACE FUNCTION open_approval(rec bigint, in_phase bigint, grp bigint, approval_rule text, quorum integer, actor bigint,
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
