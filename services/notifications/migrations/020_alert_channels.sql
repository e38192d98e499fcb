-- Alert channels (docs/alert-channels.md): the coordinators' mail preferences, webhook
-- subscriptions, one row per delivery (a mail or a webhook call) and the lines of each mail.

-- Who receives mail for which care units, and how. Read by `recipients_for_unit` only, so the
-- registry of coordinators can take its place later.
CREATE TABLE coordinator_contact_preferences (
    coordinator_hsa_id  text        PRIMARY KEY,
    email               text        NOT NULL,
    care_unit_hsa_ids   text[]      NOT NULL DEFAULT '{}',
    immediate           boolean     NOT NULL DEFAULT true,
    digest_time         time        NOT NULL,
    updated_by          text        NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX coordinator_contact_preferences_by_unit ON coordinator_contact_preferences USING gin (care_unit_hsa_ids);

CREATE TABLE webhook_subscriptions (
    subscription_id     uuid        PRIMARY KEY,
    scope               text        NOT NULL CHECK (scope IN ('UNIT', 'REGION')),
    care_unit_hsa_id    text,
    url                 text        NOT NULL,
    secret              text        NOT NULL,
    event_kinds         text[]      NOT NULL DEFAULT '{}',
    created_by          text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz,
    CHECK ((scope = 'UNIT') = (care_unit_hsa_id IS NOT NULL))
);
CREATE INDEX webhook_subscriptions_active ON webhook_subscriptions (care_unit_hsa_id) WHERE deleted_at IS NULL;

-- One mail or one webhook call. `not_before` is business time (the service clock: quiet hours,
-- the digest); `retry_at` and `leased_until` are the database's own time, so a retry or a lease
-- runs out in real seconds whatever the service clock says.
CREATE TABLE deliveries (
    delivery_id         uuid        PRIMARY KEY,
    channel             text        NOT NULL CHECK (channel IN ('EMAIL', 'WEBHOOK')),
    state               text        NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'SENT', 'FAILED')),
    recipient           text        NOT NULL,
    address             text        NOT NULL,
    care_unit_hsa_id    text,
    alert_id            text,
    digest              boolean     NOT NULL DEFAULT false,
    payload             jsonb,
    not_before          timestamptz NOT NULL,
    attempts            integer     NOT NULL DEFAULT 0,
    retry_at            timestamptz,
    leased_until        timestamptz,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    failed_at           timestamptz
);
CREATE INDEX deliveries_pending ON deliveries (channel, not_before) WHERE state = 'PENDING';
CREATE INDEX deliveries_by_recipient ON deliveries (recipient, created_at);

-- The lines of the mails: an immediate one belongs to its delivery from the start; a digest line
-- waits (no delivery) until its `send_at`, when the worker gathers a coordinator's lines into one.
CREATE TABLE mail_items (
    item_id             uuid        PRIMARY KEY,
    coordinator_hsa_id  text        NOT NULL,
    email               text        NOT NULL,
    care_unit_hsa_id    text        NOT NULL,
    alert_id            text        NOT NULL,
    kind                text        NOT NULL,
    milestone_status    text,
    due_date            date,
    risk_level          text,
    immediate           boolean     NOT NULL,
    send_at             timestamptz NOT NULL,
    delivery_id         uuid        REFERENCES deliveries (delivery_id),
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_items_waiting ON mail_items (send_at) WHERE delivery_id IS NULL;
CREATE INDEX mail_items_of_delivery ON mail_items (delivery_id);
