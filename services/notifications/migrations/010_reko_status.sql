-- Casework (docs/casework.md): which patient a case is, as the coordinator's records learnt it, per
-- care unit, so a case id in a path finds the patient's consent, plan and contacts.
CREATE TABLE casework_case_patients (
    case_id            text NOT NULL,
    care_unit_hsa_id   text NOT NULL,
    patient_pseudonym  text NOT NULL,
    PRIMARY KEY (case_id, care_unit_hsa_id)
);

-- REKO status per (case, care unit): every change, kept; the current status is the latest row.
CREATE TABLE reko_status_changes (
    id                 bigserial   PRIMARY KEY,
    case_id            text        NOT NULL,
    care_unit_hsa_id   text        NOT NULL,
    status             text        NOT NULL,
    changed_by         text        NOT NULL,
    changed_at         timestamptz NOT NULL
);
CREATE INDEX reko_status_changes_by_case ON reko_status_changes (care_unit_hsa_id, case_id, id);
