-- The relay's horizon in one call: the highest outbox id, read while the relay holds the writers'
-- advisory lock alone (docs/architecture.md §5). Each query in a volatile function takes a fresh
-- snapshot, so the max sees every writer that committed while the lock was awaited. The caller's
-- search_path names the schema, as for every other statement of the service.
CREATE OR REPLACE FUNCTION outbox_horizon() RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    horizon bigint;
BEGIN
    PERFORM pg_advisory_lock(hashtext('outbox-writers:' || current_schema()));
    SELECT coalesce(max(id), 0) INTO horizon FROM outbox;
    PERFORM pg_advisory_unlock(hashtext('outbox-writers:' || current_schema()));
    RETURN horizon;
END;
$$;
