-- The writes counter read with the signed-in user on every request (migration 000024) by
-- PL/pgSQL instead of plain SQL: a SQL function with a FROM clause is not inlined, so its
-- body was parsed and planned anew on every call (about 0.1 ms of the database's time per
-- request, measured with pg_stat_user_functions at a million releases). PL/pgSQL keeps the
-- plan for the session.
CREATE OR REPLACE FUNCTION relman_writes_seen() RETURNS bigint LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT last_value FROM relman_writes);
END $$;
