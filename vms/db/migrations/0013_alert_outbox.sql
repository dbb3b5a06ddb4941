-- Durable outbox of the outgoing alert webhooks (CSD-13): every alert created or changed
-- is appended to alert_outbox by a trigger, in the transaction of the change, so that no
-- change is lost while the desk is stopped, a receiver is down or the process restarts.
-- The desk's publisher (vms.alerts.outgoing) delivers the rows to each webhook in order
-- and records each delivery. Design: docs/design/alerts.md, "Outgoing alerts".

CREATE TABLE alert_outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id   bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    alert      jsonb NOT NULL CHECK (jsonb_typeof(alert) = 'object')
);
CREATE INDEX alert_outbox_created ON alert_outbox (created_at);
COMMENT ON TABLE alert_outbox IS 'Alert changes to deliver to the outgoing webhooks (transactional outbox); purged once delivered to every webhook, or after the retention (undelivered: logged).';
COMMENT ON COLUMN alert_outbox.id IS 'Delivery order per webhook (per alert, the order of the changes: a change waits for the lock of the previous one).';
COMMENT ON COLUMN alert_outbox.alert_id IS 'The alert changed (no foreign key: the row outlives nothing and locks nothing).';
COMMENT ON COLUMN alert_outbox.created_at IS 'Start of the transaction of the change (database clock); the retention counts from it.';
COMMENT ON COLUMN alert_outbox.alert IS 'The alert as this change left it: the published columns only (no report, no detail), timestamps in UTC.';

CREATE TABLE alert_webhooks (
    key        text PRIMARY KEY CHECK (key ~ '^[0-9a-f]{64}$'),
    url        text NOT NULL,
    floor_id   bigint NOT NULL CHECK (floor_id >= 0),
    seen_at    timestamptz NOT NULL
);
COMMENT ON TABLE alert_webhooks IS 'Webhooks some desk has configured; forgotten (with their deliveries) once no desk has had them for the retention.';
COMMENT ON COLUMN alert_webhooks.key IS 'sha256 (hex) of the URL: the webhook''s identity across restarts and desks.';
COMMENT ON COLUMN alert_webhooks.url IS 'The URL (for logs; the secret is never stored).';
COMMENT ON COLUMN alert_webhooks.floor_id IS 'Outbox rows up to this id predate the webhook (a new webhook gets no backlog beyond about a minute).';
COMMENT ON COLUMN alert_webhooks.seen_at IS 'Last time a running desk had this webhook configured.';

CREATE TABLE alert_outbox_delivered (
    webhook_key  text NOT NULL REFERENCES alert_webhooks (key) ON DELETE CASCADE,
    outbox_id    bigint NOT NULL REFERENCES alert_outbox (id) ON DELETE CASCADE,
    delivered_at timestamptz NOT NULL,
    PRIMARY KEY (webhook_key, outbox_id)
);
CREATE INDEX alert_outbox_delivered_outbox ON alert_outbox_delivered (outbox_id);
COMMENT ON TABLE alert_outbox_delivered IS 'Outbox rows a webhook acknowledged (2xx): a set, not a cursor, so that a change committing after a later one is never skipped.';
COMMENT ON COLUMN alert_outbox_delivered.delivered_at IS 'When the receiver answered 2xx.';

-- Runs as the owner: the operator service (role vms_app) changes alerts but may neither
-- read nor write the outbox. Fixed search path and time zone (timestamps in UTC).
CREATE FUNCTION alert_outbox_append() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public SET TimeZone = 'UTC' AS $$
BEGIN
    INSERT INTO alert_outbox (alert_id, alert) VALUES (NEW.id, jsonb_build_object(
        'id', NEW.id, 'tenant_id', NEW.tenant_id, 'camera_id', NEW.camera_id,
        'source', NEW.source, 'kind', NEW.kind, 'priority', NEW.priority,
        'title', NEW.title, 'state', NEW.state, 'raised_at', NEW.raised_at,
        'ack_due_at', NEW.ack_due_at, 'acknowledged_at', NEW.acknowledged_at,
        'acknowledged_by', NEW.acknowledged_by, 'assigned_to', NEW.assigned_to,
        'overdue_at', NEW.overdue_at, 'closed_at', NEW.closed_at,
        'qualification', NEW.qualification, 'input_source', NEW.input_source,
        'external_id', NEW.external_id, 'suppressed_by', NEW.suppressed_by));
    RETURN NULL;
END $$;
CREATE TRIGGER alert_outbox_insert AFTER INSERT ON alerts
    FOR EACH ROW EXECUTE FUNCTION alert_outbox_append();
CREATE TRIGGER alert_outbox_update AFTER UPDATE ON alerts
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION alert_outbox_append();
