-- One milestone alert per (case, milestone kind, due date): a milestone whose due date moves withdraws
-- the alert of the old date and opens one for the new date, and each is announced once. Existing
-- milestone alerts, kept per (case, kind) until now, take their due date into their id.
ALTER TABLE alerts ADD COLUMN case_id text, ADD COLUMN kind text;
UPDATE alerts SET case_id = body->>'case_id', kind = body->>'kind';
UPDATE alerts
   SET alert_id = alert_id || ':' || (body->>'due_date'),
       body = jsonb_set(body, '{alert_id}', to_jsonb(alert_id || ':' || (body->>'due_date')))
 WHERE kind <> 'RISK_FLAG' AND body->>'due_date' IS NOT NULL;
ALTER TABLE alerts ALTER COLUMN case_id SET NOT NULL, ALTER COLUMN kind SET NOT NULL;
CREATE INDEX alerts_by_case_and_kind ON alerts (case_id, kind);
