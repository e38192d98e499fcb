-- Pseudonymised facts, one row per case id that exists now (docs/rules.md §6.1 lists what a fact carries).
CREATE TABLE case_facts (
    case_id               text    PRIMARY KEY,
    patient_pseudonym     text    NOT NULL,
    sex                   text    NOT NULL,
    care_unit_hsa_id      text    NOT NULL,
    care_provider_hsa_id  text    NOT NULL,
    diagnosis_group       text    NOT NULL,
    diagnosis_chapter     text    NOT NULL,
    start                 date    NOT NULL,
    "end"                 date    NOT NULL,
    certified_days        integer NOT NULL,
    degrees               jsonb   NOT NULL,
    age_bands             jsonb   NOT NULL
);
CREATE INDEX case_facts_by_unit ON case_facts (care_unit_hsa_id, start, "end");
CREATE INDEX case_facts_by_patient ON case_facts (patient_pseudonym);

-- The newest case revision applied per patient: an older copy delivered late changes nothing.
CREATE TABLE patients (
    patient_pseudonym  text    PRIMARY KEY,
    revision           bigint  NOT NULL
);
