DROP FUNCTION open_approval(bigint, bigint, bigint, text, integer, bigint);
