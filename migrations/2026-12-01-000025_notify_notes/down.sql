DROP FUNCTION notify_notes(bigint[], integer[], bigint[], text[], text[], text[], text[]);
CREATE FUNCTION notify_people(recipients bigint[], about bigint, note_kind text, note_subject text, note_body text, note_link text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    sent integer;
BEGIN
    WITH people AS (
        SELECT id, email FROM users WHERE id = ANY(recipients) AND active
    ), inserted AS (
        INSERT INTO notifications (user_id, release_id, kind, subject, body, link)
        SELECT id, about, note_kind, note_subject, note_body, note_link FROM people ORDER BY id
        RETURNING id, user_id
    ), mailed AS (
        INSERT INTO mail_outbox (notification_id, to_address, subject, text_body, link)
        SELECT i.id, p.email, note_subject, note_body, note_link
        FROM inserted i JOIN people p ON p.id = i.user_id
        WHERE coalesce(p.email, '') <> ''
        ORDER BY i.id
    )
    SELECT count(*) INTO sent FROM inserted;
    RETURN sent;
END $$;
