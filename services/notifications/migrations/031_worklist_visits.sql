-- When each coordinator last opened her worklist, so it can mark what is new since her last visit
-- (docs/worklist.md §2): the weekly review Rehabstöd leaves to a notebook.
CREATE TABLE worklist_visits (
    coordinator_hsa_id  text        PRIMARY KEY,
    last_visit_at       timestamptz NOT NULL,
    previous_visit_at   timestamptz
);
