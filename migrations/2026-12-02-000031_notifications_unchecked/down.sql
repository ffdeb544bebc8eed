DROP TRIGGER users_keep_notified ON users;
DROP FUNCTION refuse_deleting_notified_users();
DROP TRIGGER releases_never_deleted ON releases;
DROP FUNCTION refuse_deleting_records();
ALTER TABLE notifications
    ADD CONSTRAINT notifications_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    ADD CONSTRAINT notifications_release_id_fkey FOREIGN KEY (release_id) REFERENCES releases (id);
