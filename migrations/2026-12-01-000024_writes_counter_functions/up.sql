-- The writes counter (migration 000019) read and advanced through functions, so the
-- statements that use it have a fixed text Diesel prepares once per connection: written as
-- SQL fragments they were parsed and planned anew on every request.
CREATE FUNCTION relman_writes_seen() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT last_value FROM relman_writes $$;
CREATE FUNCTION relman_write_done() RETURNS bigint LANGUAGE sql VOLATILE AS $$ SELECT nextval('relman_writes') $$;
