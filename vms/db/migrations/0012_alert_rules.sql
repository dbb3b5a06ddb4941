-- Alert desk rules and external inputs (CSD-13, ALR-01..03, LAW-10): the `alert_input`
-- right of the machine clients that post external alarms, idempotent external alerts,
-- and camera maintenance windows (suppression with a record). Design:
-- docs/design/alerts.md, sections "External inputs" and "Suppression rules".

-- the right to post external alarms (vms.domain.access.Action.ALERT_INPUT)
ALTER TABLE grants DROP CONSTRAINT grants_action_check, ADD CONSTRAINT grants_action_check
    CHECK (action IN ('view_live', 'playback', 'export', 'ptz', 'manage_holds', 'lift_masks',
        'configure_analytics', 'admin_users', 'admin_cameras', 'read_audit', 'handle_alerts',
        'alert_input'));

ALTER TABLE alerts
    ADD COLUMN input_source text CHECK (input_source ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    ADD COLUMN external_id text CHECK (length(external_id) BETWEEN 1 AND 200),
    ADD COLUMN suppressed_by bigint,
    ADD CHECK (external_id IS NULL OR input_source IS NOT NULL);
COMMENT ON COLUMN alerts.input_source IS 'External alerts: the sending system (path of the webhook, or mqtt:<topic>).';
COMMENT ON COLUMN alerts.external_id IS 'External alerts: the sender''s identifier of the alarm; a resend with the same one creates nothing.';
COMMENT ON COLUMN alerts.suppressed_by IS 'The maintenance window during which the alert was raised: recorded, closed at once by the system (LAW-10: nothing hidden from the record).';
CREATE UNIQUE INDEX alerts_external ON alerts (tenant_id, input_source, external_id)
    WHERE external_id IS NOT NULL;

CREATE TABLE camera_maintenance (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants (id),
    camera_id  text NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    from_at    timestamptz NOT NULL,
    to_at      timestamptz NOT NULL,
    reason     text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 1000),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    deleted_at timestamptz,
    deleted_by text,
    CHECK (to_at > from_at),
    CHECK ((deleted_at IS NULL) = (deleted_by IS NULL))
);
CREATE INDEX camera_maintenance_active ON camera_maintenance (camera_id, to_at)
    WHERE deleted_at IS NULL;
COMMENT ON TABLE camera_maintenance IS 'Maintenance windows of a camera: technical faults are not raised, analytics and external alerts are recorded closed (qualification technique).';
COMMENT ON COLUMN camera_maintenance.from_at IS 'Start of the window (inclusive).';
COMMENT ON COLUMN camera_maintenance.to_at IS 'End of the window (exclusive).';
COMMENT ON COLUMN camera_maintenance.reason IS 'Why (shown on the suppressed alerts).';
COMMENT ON COLUMN camera_maintenance.created_by IS 'Login of the administrator who declared it.';
COMMENT ON COLUMN camera_maintenance.deleted_at IS 'Withdrawn (kept for the record; a withdrawn window suppresses nothing).';
GRANT SELECT, INSERT, UPDATE ON camera_maintenance TO vms_app;
ALTER TABLE camera_maintenance ENABLE ROW LEVEL SECURITY;
CREATE POLICY camera_maintenance_scope ON camera_maintenance TO vms_app
    USING (vms_visible(tenant_id)) WITH CHECK (vms_visible(tenant_id));
ALTER TABLE alerts ADD FOREIGN KEY (suppressed_by) REFERENCES camera_maintenance (id);

INSERT INTO alert_procedures (kind, title, priority, ack_deadline_s, instructions, checklist) VALUES
    ('alarme_intrusion_batiment', 'Alarme intrusion d''un bâtiment', 2, 180,
     'Consulter les caméras du bâtiment pour lever le doute ; prévenir les forces de l''ordre si l''intrusion est confirmée.',
     '["Identifier le bâtiment", "Consulter les caméras proches", "Appeler le 17 si confirmé"]'),
    ('capteur_lorawan', 'Capteur connecté', 3, 900,
     'Vérifier l''information du capteur sur la caméra la plus proche.', '["Identifier le capteur", "Vérifier sur la caméra la plus proche"]')
ON CONFLICT (kind) DO NOTHING;

ALTER TABLE alert_procedures ADD COLUMN external boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN alert_procedures.external IS 'A kind external inputs (webhook, MQTT) may raise: the configured list of external kinds.';
UPDATE alert_procedures SET external = true
    WHERE kind IN ('externe', 'alarme_intrusion_batiment', 'capteur_lorawan');
