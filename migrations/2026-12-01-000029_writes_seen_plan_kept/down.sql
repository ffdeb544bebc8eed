CREATE OR REPLACE FUNCTION relman_writes_seen() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT last_value FROM relman_writes $$;
