-- The patient's consent per care unit and scope (docs/casework.md §2): every decision, kept; the
-- decision in force on a day is computed from them.
CREATE TABLE consent_records (
    id                 bigserial   PRIMARY KEY,
    patient_pseudonym  text        NOT NULL,
    care_unit_hsa_id   text        NOT NULL,
    case_id            text        NOT NULL,
    scope              text        NOT NULL,
    decision           text        NOT NULL,
    decided_on         date        NOT NULL,
    recorded_by        text        NOT NULL,
    recorded_at        timestamptz NOT NULL
);
CREATE INDEX consent_records_by_patient ON consent_records (care_unit_hsa_id, patient_pseudonym, id);

-- The coordinator's contact log per patient and care unit (docs/casework.md §3.2). The note is
-- patient data: it leaves this table only in an answer to the unit's readers.
CREATE TABLE contacts (
    id                 bigserial   PRIMARY KEY,
    contact_id         text        NOT NULL UNIQUE,
    patient_pseudonym  text        NOT NULL,
    care_unit_hsa_id   text        NOT NULL,
    case_id            text        NOT NULL,
    kind               text        NOT NULL,
    parties            text[]      NOT NULL,
    contact_on         date        NOT NULL,
    note               text        NOT NULL,
    recorded_by        text        NOT NULL,
    recorded_at        timestamptz NOT NULL
);
CREATE INDEX contacts_by_patient ON contacts (care_unit_hsa_id, patient_pseudonym, contact_on, id);
