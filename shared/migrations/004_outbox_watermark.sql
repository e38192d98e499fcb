-- The relay keeps one watermark instead of marking every row: every row up to `sent_through` has
-- been published (or refused, see refused_at), every row above it has not. Writers take a shared
-- advisory lock while they insert, and the relay reads its horizon (the highest id) only while no
-- writer is inserting, so no row can commit below a horizon the relay has passed.
CREATE TABLE IF NOT EXISTS outbox_relay (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    sent_through  bigint  NOT NULL
);
INSERT INTO outbox_relay (sent_through)
SELECT coalesce((SELECT min(id) - 1 FROM outbox WHERE sent_at IS NULL), (SELECT max(id) FROM outbox), 0)
ON CONFLICT (singleton) DO NOTHING;

-- What is still to be published; the backlog everyone counts.
CREATE OR REPLACE VIEW outbox_pending AS
SELECT * FROM outbox WHERE id > (SELECT sent_through FROM outbox_relay);

-- Rows are no longer marked one by one, so the index of unmarked rows only costs writes.
DROP INDEX IF EXISTS outbox_unsent;
