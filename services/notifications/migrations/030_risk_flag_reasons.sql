-- The newest risk flag of each case with every reason and the evidence that matched, for the
-- coordinator's worklist and patient page (docs/worklist.md §3). Alerts carry the reason codes
-- only: the evidence names diagnoses and dates, which the alerts topic never carries.
CREATE TABLE risk_flag_reasons (
    case_id   text     PRIMARY KEY,
    level     text     NOT NULL,
    revision  integer  NOT NULL,
    reasons   jsonb    NOT NULL
);
