-- Listed patients per care unit and month, loaded by the region (docs/statistics.md §5). `sex` is F, M or
-- UNKNOWN when the listing is split by sex, TOTAL when it is not.
CREATE TABLE listed_patients (
    care_unit_hsa_id  text     NOT NULL,
    month             date     NOT NULL CHECK (extract(day FROM month) = 1),
    sex               text     NOT NULL CHECK (sex IN ('F', 'M', 'UNKNOWN', 'TOTAL')),
    listed            integer  NOT NULL CHECK (listed >= 0),
    PRIMARY KEY (care_unit_hsa_id, month, sex)
);
