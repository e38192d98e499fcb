-- A row the broker refuses for good (too large, say) must not hold up the rows behind it: the relay
-- marks it done (sent_at) and refused (refused_at, with the broker's error), and goes on.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS refused_at timestamptz;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS refusal text;
