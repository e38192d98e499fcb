-- Whose data an answer held: the units and care providers shown, next to the unit the user acted
-- for, so a read that reaches past the acting unit (a patient's history) names every source.
ALTER TABLE access_log ADD COLUMN IF NOT EXISTS shown_care_units text[] NOT NULL DEFAULT '{}';
ALTER TABLE access_log ADD COLUMN IF NOT EXISTS shown_care_providers text[] NOT NULL DEFAULT '{}';
