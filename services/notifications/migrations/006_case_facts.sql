-- What the worklist shows of each sick-leave case, from the case events (docs/alert-lifecycle.md §3).
-- A case that no longer exists stays with status REMOVED (and out of the worklist).
CREATE TABLE case_facts (
    case_id             text        PRIMARY KEY,
    patient_pseudonym   text        NOT NULL,
    patient_revision    integer     NOT NULL,
    care_unit_hsa_id    text        NOT NULL,
    status              text        NOT NULL,
    start_date          date        NOT NULL,
    end_date            date        NOT NULL,
    body                jsonb       NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_facts_by_unit ON case_facts (care_unit_hsa_id, status, start_date, end_date);
CREATE INDEX case_facts_by_patient ON case_facts (patient_pseudonym);
