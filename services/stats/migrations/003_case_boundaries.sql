-- The aggregates kept from the case facts (docs/statistics.md §7): per breakdown, category, unit and sex,
-- how many cases (or spans of a degree or age band) start or end being counted on a day. Changed in the
-- same transaction as case_facts; `python -m services.stats rebuild` makes it again from case_facts (run it once
-- after upgrading a database that held facts before this table existed).
CREATE TABLE case_boundaries (
    breakdown         text     NOT NULL,
    category          text     NOT NULL,
    care_unit_hsa_id  text     NOT NULL,
    sex               text     NOT NULL,
    boundary          text     NOT NULL CHECK (boundary IN ('start', 'end')),
    day               date     NOT NULL,
    cases             integer  NOT NULL,
    PRIMARY KEY (breakdown, boundary, day, category, care_unit_hsa_id, sex)
);
