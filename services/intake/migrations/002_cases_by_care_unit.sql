-- The inspection API lists a unit's cases: the responsible unit (the latest certificate's) as a
-- column of its own, kept by PostgreSQL from the stored body, so the list is an index scan.
ALTER TABLE cases ADD COLUMN care_unit_hsa_id text GENERATED ALWAYS AS (body->>'care_unit_hsa_id') STORED;
CREATE INDEX cases_by_care_unit ON cases (care_unit_hsa_id);
