-- One alert per (case, milestone kind), addressed to the coordinators of the case's care unit.
CREATE TABLE alerts (
    alert_id            text        PRIMARY KEY,
    care_unit_hsa_id    text        NOT NULL,
    state               text        NOT NULL,
    milestone_revision  integer     NOT NULL,
    body                jsonb       NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_by_unit ON alerts (care_unit_hsa_id, state);
