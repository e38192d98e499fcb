-- Each coordinator's own state of an alert: NEW (no row), SEEN, HANDLED with an optional reminder
-- (docs/alert-lifecycle.md). Every change is kept with who and when in the history.
CREATE TABLE alert_attention (
    alert_id            text        NOT NULL REFERENCES alerts ON DELETE CASCADE,
    coordinator_hsa_id  text        NOT NULL,
    status              text        NOT NULL CHECK (status IN ('SEEN', 'HANDLED')),
    seen_at             timestamptz,
    handled_at          timestamptz,
    remind_on           date,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_id, coordinator_hsa_id)
);
CREATE INDEX alert_attention_by_coordinator ON alert_attention (coordinator_hsa_id, remind_on);

CREATE TABLE alert_attention_history (
    id                  bigserial   PRIMARY KEY,
    alert_id            text        NOT NULL,
    coordinator_hsa_id  text        NOT NULL,
    status              text        NOT NULL,
    remind_on           date,
    at                  timestamptz NOT NULL
);
CREATE INDEX alert_attention_history_by_alert ON alert_attention_history (alert_id);
CREATE INDEX alerts_by_patient ON alerts (patient_pseudonym);
