-- The gap between certificates of one case (intake's max_gap) named by the last case event that
-- carried one. The what-if for certificates that are no case yet assembles them with it, so its
-- cases are intake's without a second setting kept equal by hand.
CREATE TABLE case_gap (
    singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    max_gap    integer     NOT NULL,
    seen_at    timestamptz NOT NULL DEFAULT now()
);
