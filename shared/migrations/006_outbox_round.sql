-- The start of a relay's round in one call (docs/architecture.md §5): the round's own settings, the
-- relay lock, the watermark, the horizon, and the rows between them. Each was a statement and a
-- round trip of its own. Each query in a volatile function takes a fresh snapshot, so the rows are
-- read after the horizon (outbox_horizon(), migration 005) and every id up to it is visible.
-- Only the relay holding the lock writes the watermark, so its row needs no lock of its own.
--
-- Answers one row per outbox row to send, each with `locked` and the watermark `sent_through`; when
-- there is none, one row without an id; when another relay holds the lock, one row with `locked`
-- false.
CREATE OR REPLACE FUNCTION outbox_round(batch integer)
RETURNS TABLE (locked boolean, sent_through bigint, id bigint, topic text, key bytea, value bytea, headers jsonb)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    watermark bigint;
    horizon bigint;
BEGIN
    -- A watermark lost in a crash only sends its rows again: the round need not wait for the disk.
    PERFORM set_config('synchronous_commit', 'off', true);
    IF NOT pg_try_advisory_xact_lock(hashtext('outbox-relay:' || current_schema())) THEN
        RETURN QUERY SELECT false, NULL::bigint, NULL::bigint, NULL::text, NULL::bytea, NULL::bytea, NULL::jsonb;
        RETURN;
    END IF;
    SELECT r.sent_through INTO watermark FROM outbox_relay r;
    horizon := outbox_horizon();
    RETURN QUERY
        SELECT true, watermark, o.id, o.topic, o.key, o.value, o.headers
        FROM outbox o WHERE o.id > watermark AND o.id <= horizon ORDER BY o.id LIMIT batch;
    IF NOT FOUND THEN
        RETURN QUERY SELECT true, watermark, NULL::bigint, NULL::text, NULL::bytea, NULL::bytea, NULL::jsonb;
    END IF;
END;
$$;
