-- A notification's two foreign keys (its user, its release) were checked on every insert: a
-- move notifies about nine people at a million releases, so eighteen look-ups, each locking
-- a row for the rest of the transaction (the users' rows are shared by every concurrent move,
-- so PostgreSQL kept creating multixacts for them). Dropping them took about a tenth of a
-- move's CPU (docs/performance.md, 2026-12-02). What they guarded is kept otherwise:
-- * notes are written by notify_notes (migration 000028), which joins the recipients to the
--   active users, about the release the move or save holds locked;
-- * a release or change is never deleted (its append-only history refers to it): refused;
-- * a user is deactivated, not deleted: deleting one who has notifications is refused.
ALTER TABLE notifications
    DROP CONSTRAINT notifications_user_id_fkey,
    DROP CONSTRAINT notifications_release_id_fkey;

CREATE FUNCTION refuse_deleting_records() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'releases and changes are never deleted: close or abandon them'
        USING ERRCODE = 'foreign_key_violation';
END $$;
CREATE TRIGGER releases_never_deleted BEFORE DELETE ON releases
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_deleting_records();

CREATE FUNCTION refuse_deleting_notified_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM notifications WHERE user_id = OLD.id) THEN
        RAISE EXCEPTION 'user % has notifications: deactivate the account instead of deleting it', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER users_keep_notified BEFORE DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION refuse_deleting_notified_users();
