-- Who each patient is, from the identity topic (docs/identity.md). The personnummer rests only as a
-- Fernet token under notifications' own storage key `key_id`; a protected patient has none at all.
CREATE TABLE patient_identities (
    patient_pseudonym    text        PRIMARY KEY,
    encrypted_person_id  text,
    key_id               text,
    protected_identity   boolean     NOT NULL,
    revision             integer     NOT NULL,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT protected_identity OR encrypted_person_id IS NULL)
);
CREATE INDEX patient_identities_by_key ON patient_identities (key_id) WHERE key_id IS NOT NULL;
