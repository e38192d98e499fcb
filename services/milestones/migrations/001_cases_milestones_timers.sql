-- The patient's cases as the latest case events describe them.
CREATE TABLE cases (
    case_id            text    PRIMARY KEY,
    patient_pseudonym  text    NOT NULL,
    body               jsonb   NOT NULL
);
CREATE INDEX cases_by_patient ON cases (patient_pseudonym);

-- Which revision of a patient's cases we hold and how many of its events have arrived: the patient
-- is evaluated only once the whole revision is here, never on a half-applied merge or split.
CREATE TABLE patients (
    patient_pseudonym  text    PRIMARY KEY,
    revision           bigint  NOT NULL,
    events_seen        integer NOT NULL,
    events_expected    integer NOT NULL
);

-- The last published state of every (case, kind).
CREATE TABLE milestones (
    case_id            text    NOT NULL,
    kind               text    NOT NULL,
    patient_pseudonym  text    NOT NULL,
    status             text    NOT NULL,
    due_date           date    NOT NULL,
    revision           integer NOT NULL,
    body               jsonb   NOT NULL,
    PRIMARY KEY (case_id, kind)
);
CREATE INDEX milestones_by_patient ON milestones (patient_pseudonym);

-- Durable timers: the next date on which some milestone of the patient changes status.
CREATE TABLE timers (
    patient_pseudonym  text  PRIMARY KEY,
    fires_on           date  NOT NULL
);
CREATE INDEX timers_by_date ON timers (fires_on);
