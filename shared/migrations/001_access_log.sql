-- PDL (patientdatalagen) access log: one row for every answer that showed patient data, written
-- before the answer is sent. Patients appear only by pseudonym; the path has no query values.
CREATE TABLE IF NOT EXISTS access_log (
    id                  bigserial   PRIMARY KEY,
    at                  timestamptz NOT NULL DEFAULT now(),
    user_hsa_id         text        NOT NULL,
    user_name           text,
    roles               text[]      NOT NULL,
    care_unit_hsa_id    text        NOT NULL,
    action              text        NOT NULL,
    resource            text        NOT NULL,
    purpose             text        NOT NULL,
    patient_pseudonyms  text[]      NOT NULL DEFAULT '{}',
    request_path        text        NOT NULL
);
CREATE INDEX IF NOT EXISTS access_log_by_time ON access_log (at);
-- A patient's log extract (loggutdrag): who read my data, when, for which unit.
CREATE INDEX IF NOT EXISTS access_log_by_patient ON access_log USING gin (patient_pseudonyms);
CREATE INDEX IF NOT EXISTS access_log_by_user ON access_log (user_hsa_id, at);
