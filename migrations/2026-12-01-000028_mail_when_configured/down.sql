-- notify_notes as migration 000025 made it: an e-mail queued for every notification.
CREATE OR REPLACE FUNCTION notify_notes(recipients bigint[], note_of integer[], about bigint[], note_kind text[], note_subject text[], note_body text[], note_link text[])
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
DECLARE
    sent integer;
BEGIN
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
END $function$;
