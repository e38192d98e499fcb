-- What intake last published on the identity topic per patient (docs/identity.md): never the
-- personnummer, only whether it was protected, under which key it went, and the revision.
CREATE TABLE patient_identities (
    patient_pseudonym   text        PRIMARY KEY REFERENCES patients,
    protected_identity  boolean     NOT NULL,
    key_id              text,
    revision            integer     NOT NULL,
    published_at        timestamptz NOT NULL DEFAULT now()
);
