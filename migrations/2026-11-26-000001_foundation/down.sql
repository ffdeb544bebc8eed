DROP TABLE login_events;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE users;
