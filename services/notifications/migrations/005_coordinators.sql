-- Who coordinates which care units, and who stands in during an absence (docs/coordinators.md).
-- `source` is `api` or `file`: the start-up file replaces only what it loaded itself.
CREATE TABLE coordinators (
    hsa_id      text        PRIMARY KEY,
    name        text,
    updated_by  text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE coordinator_units (
    coordinator_hsa_id  text        NOT NULL REFERENCES coordinators ON DELETE CASCADE,
    care_unit_hsa_id    text        NOT NULL,
    source              text        NOT NULL CHECK (source IN ('api', 'file')),
    assigned_by         text        NOT NULL,
    assigned_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (coordinator_hsa_id, care_unit_hsa_id)
);
CREATE INDEX coordinator_units_by_unit ON coordinator_units (care_unit_hsa_id);

CREATE TABLE coordinator_stand_ins (
    coordinator_hsa_id  text        NOT NULL REFERENCES coordinators ON DELETE CASCADE,
    stand_in_hsa_id     text        NOT NULL,
    from_date           date        NOT NULL,
    to_date             date        NOT NULL,
    source              text        NOT NULL CHECK (source IN ('api', 'file')),
    set_by              text        NOT NULL,
    set_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (coordinator_hsa_id, stand_in_hsa_id, from_date),
    CHECK (from_date <= to_date)
);
CREATE INDEX coordinator_stand_ins_by_stand_in ON coordinator_stand_ins (stand_in_hsa_id);
