-- The patient an alert is about (by pseudonym), so a read of alerts names its patients in the PDL
-- access log. Alerts stored before this have none until their milestone or risk flag changes.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS patient_pseudonym text;
