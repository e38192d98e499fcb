-- The rehabilitation plan per patient and care unit (docs/casework.md §3.1): the plan's head, with
-- what the next-step check looks at, and every version of it.
CREATE TABLE rehabilitation_plans (
    plan_id              text    PRIMARY KEY,
    patient_pseudonym    text    NOT NULL,
    care_unit_hsa_id     text    NOT NULL,
    current_version      integer NOT NULL,
    -- The current version's next step while it is not done, and the NEXT_STEP alert open for it.
    open_step_due_on     date,
    open_step_alert_id   text,
    UNIQUE (care_unit_hsa_id, patient_pseudonym)
);
CREATE INDEX rehabilitation_plans_awaiting_alert ON rehabilitation_plans (open_step_due_on)
    WHERE open_step_due_on IS NOT NULL AND open_step_alert_id IS NULL;

-- Goal, agreed steps and the next step's description are patient data: they leave these tables
-- only in an answer to the unit's readers.
CREATE TABLE rehabilitation_plan_versions (
    plan_id                text        NOT NULL REFERENCES rehabilitation_plans (plan_id),
    version                integer     NOT NULL,
    case_id                text        NOT NULL,
    goal                   text        NOT NULL,
    agreed_steps           text[]      NOT NULL,
    next_step_description  text,
    next_step_due_on       date,
    next_step_owner        text,
    next_step_done_on      date,
    recorded_by            text        NOT NULL,
    recorded_at            timestamptz NOT NULL,
    PRIMARY KEY (plan_id, version)
);
