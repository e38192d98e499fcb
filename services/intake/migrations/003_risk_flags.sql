-- The risk flag last published per case id, to publish only when its level or reasons change.
-- Kept after the case is gone, so a case id that comes back continues its revision.
CREATE TABLE risk_flags (
    case_id            text    PRIMARY KEY,
    patient_pseudonym  text    NOT NULL REFERENCES patients,
    body               jsonb   NOT NULL
);
CREATE INDEX risk_flags_by_patient ON risk_flags (patient_pseudonym);
