-- The kept aggregates of the breakdowns with a closed vocabulary, one vector of counts per unit, sex, boundary
-- and day (docs/statistics.md §7): a case extended moves two rows (its old end and its new one) instead of one
-- per breakdown and category. The positions are services/stats/statistics.py's COUNTED_CELLS; case_boundaries
-- keeps the certified days and any category outside the vocabulary.
CREATE TABLE boundary_counts (
    care_unit_hsa_id  text     NOT NULL,
    sex               text     NOT NULL,
    boundary          text     NOT NULL CHECK (boundary IN ('start', 'end')),
    day               date     NOT NULL,
    counts            integer[] NOT NULL CHECK (cardinality(counts) = 34),
    PRIMARY KEY (boundary, day, care_unit_hsa_id, sex)
);

-- Counts added position by position (the upsert's ON CONFLICT).
CREATE FUNCTION boundary_counts_sum(held integer[], added integer[]) RETURNS integer[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT array_agg(h + a ORDER BY i) FROM unnest(held, added) WITH ORDINALITY AS t(h, a, i) $$;

-- The rows kept so far move into the vectors; what has no position stays.
CREATE TEMPORARY TABLE counted_cells (position integer, breakdown text, category text) ON COMMIT DROP;
INSERT INTO counted_cells VALUES
    (1, 'sex', 'ALL'),
    (2, 'lengthBand', '<90'),
    (3, 'lengthBand', '90-180'),
    (4, 'lengthBand', '181-365'),
    (5, 'lengthBand', '>365'),
    (6, 'diagnosisGroup', 'psychiatric'),
    (7, 'diagnosisGroup', 'musculoskeletal'),
    (8, 'diagnosisGroup', 'somatic'),
    (9, 'diagnosisGroup', 'pregnancy'),
    (10, 'diagnosisGroup', 'symptoms'),
    (11, 'diagnosisGroup', 'factors'),
    (12, 'diagnosisGroup', 'other'),
    (13, 'diagnosisGroup', 'unknown'),
    (14, 'degree', '25'),
    (15, 'degree', '50'),
    (16, 'degree', '75'),
    (17, 'degree', '100'),
    (18, 'degree', 'NONE'),
    (19, 'ageBand', '-20'),
    (20, 'ageBand', '21-30'),
    (21, 'ageBand', '31-40'),
    (22, 'ageBand', '41-50'),
    (23, 'ageBand', '51-60'),
    (24, 'ageBand', '61-'),
    (25, 'ageBand', 'UNKNOWN'),
    (26, 'monthlyLengthBand', '<15'),
    (27, 'monthlyLengthBand', '15-30'),
    (28, 'monthlyLengthBand', '31-60'),
    (29, 'monthlyLengthBand', '61-90'),
    (30, 'monthlyLengthBand', '91-180'),
    (31, 'monthlyLengthBand', '181-364'),
    (32, 'monthlyLengthBand', '365-729'),
    (33, 'monthlyLengthBand', '>=730'),
    (34, 'longCases', 'ALL');

INSERT INTO boundary_counts (care_unit_hsa_id, sex, boundary, day, counts)
SELECT k.care_unit_hsa_id, k.sex, k.boundary, k.day, array_agg(coalesce(b.cases, 0) ORDER BY c.position)
FROM (SELECT DISTINCT b.care_unit_hsa_id, b.sex, b.boundary, b.day FROM case_boundaries b JOIN counted_cells USING (breakdown, category)) AS k
CROSS JOIN counted_cells c
LEFT JOIN case_boundaries b
    ON (b.breakdown, b.category, b.care_unit_hsa_id, b.sex, b.boundary, b.day) = (c.breakdown, c.category, k.care_unit_hsa_id, k.sex, k.boundary, k.day)
GROUP BY k.care_unit_hsa_id, k.sex, k.boundary, k.day;

DELETE FROM case_boundaries b USING counted_cells c WHERE (b.breakdown, b.category) = (c.breakdown, c.category);
