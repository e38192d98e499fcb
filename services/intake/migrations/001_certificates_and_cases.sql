-- Patients by pseudonym only: intake keeps no personnummer once it has derived what it needs.
CREATE TABLE patients (
    patient_pseudonym  text    PRIMARY KEY,
    birth_date         date    NOT NULL,
    sex                text    NOT NULL,
    revision           bigint  NOT NULL DEFAULT 0
);

-- Every signed certificate as first received (normalised, pseudonymised); certificates are immutable.
CREATE TABLE certificates (
    certificate_id     text        PRIMARY KEY,
    patient_pseudonym  text        NOT NULL REFERENCES patients,
    signed_at          timestamptz NOT NULL,
    body               jsonb       NOT NULL,
    received_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificates_by_patient ON certificates (patient_pseudonym);

-- Revocations, remembered even when the certificate has not arrived yet.
CREATE TABLE revocations (
    certificate_id  text        PRIMARY KEY,
    revoked_at      timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);

-- The cases as last published, to tell what changed.
CREATE TABLE cases (
    case_id            text    PRIMARY KEY,
    patient_pseudonym  text    NOT NULL REFERENCES patients,
    body               jsonb   NOT NULL
);
CREATE INDEX cases_by_patient ON cases (patient_pseudonym);
