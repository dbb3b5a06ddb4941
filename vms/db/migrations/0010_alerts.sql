-- Alert desk and technical supervision (ALR-01..06, CSD-10, CSD-13, CONF-03): one alert
-- model for analytics events, technical faults and external inputs, with its state
-- machine history; per-type procedures; intervention tickets; commune referents.
-- Design: docs/design/alerts.md.

ALTER TABLE tenants ADD COLUMN referents jsonb NOT NULL DEFAULT '[]';
COMMENT ON COLUMN tenants.referents IS 'Referent contacts of the commune shown on its alerts: [{"name", "role", "phone", "email"}].';
ALTER TABLE cameras ADD COLUMN latitude double precision, ADD COLUMN longitude double precision;
COMMENT ON COLUMN cameras.latitude IS 'Map position (WGS 84), from the configuration; NULL if unknown.';
-- the right to handle alerts (vms.domain.access.Action.HANDLE_ALERTS)
ALTER TABLE grants DROP CONSTRAINT grants_action_check, ADD CONSTRAINT grants_action_check
    CHECK (action IN ('view_live', 'playback', 'export', 'ptz', 'manage_holds', 'lift_masks',
        'configure_analytics', 'admin_users', 'admin_cameras', 'read_audit', 'handle_alerts'));

CREATE TABLE alert_procedures (
    kind           text PRIMARY KEY,
    title          text NOT NULL,
    priority       smallint NOT NULL CHECK (priority BETWEEN 1 AND 4),
    ack_deadline_s integer NOT NULL CHECK (ack_deadline_s > 0),
    instructions   text NOT NULL DEFAULT '',
    checklist      jsonb NOT NULL DEFAULT '[]'
);
COMMENT ON TABLE alert_procedures IS 'Per alert type: priority (1 = highest), acknowledgement deadline (ALR-03) and the operating procedure shown to the operator.';
GRANT SELECT ON alert_procedures TO vms_app;

CREATE TABLE alerts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       text NOT NULL REFERENCES tenants (id),
    camera_id       text REFERENCES cameras (id) ON DELETE SET NULL,
    source          text NOT NULL CHECK (source IN ('analytique', 'technique', 'externe', 'manuelle')),
    kind            text NOT NULL,
    priority        smallint NOT NULL CHECK (priority BETWEEN 1 AND 4),
    title           text NOT NULL,
    event_id        bigint,
    event_at        timestamptz,
    dedup_key       text,
    state           text NOT NULL DEFAULT 'nouvelle' CHECK (state IN
        ('nouvelle', 'prise_en_compte', 'levee_de_doute', 'escaladee', 'cloturee')),
    raised_at       timestamptz NOT NULL,
    ack_due_at      timestamptz NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by text,
    assigned_to     text,
    overdue_at      timestamptz,
    closed_at       timestamptz,
    closed_by       text,
    qualification   text CHECK (qualification IN ('incident_reel', 'fausse_alerte', 'test', 'technique')),
    report          text,
    forces_calls    jsonb NOT NULL DEFAULT '[]',
    detail          jsonb NOT NULL DEFAULT '{}',
    CHECK ((state = 'cloturee') = (closed_at IS NOT NULL)),
    CHECK (state <> 'cloturee' OR (qualification IS NOT NULL AND length(btrim(report)) > 0))
);
CREATE INDEX alerts_open ON alerts (tenant_id, raised_at DESC) WHERE state <> 'cloturee';
CREATE INDEX alerts_time ON alerts (raised_at DESC);
CREATE UNIQUE INDEX alerts_event ON alerts (event_id, event_at) WHERE event_id IS NOT NULL;
CREATE UNIQUE INDEX alerts_dedup_open ON alerts (dedup_key) WHERE dedup_key IS NOT NULL AND state <> 'cloturee';
COMMENT ON TABLE alerts IS 'Alerts of the desk: analytics events (attention only, LAW-10), technical faults, external inputs, manual ones.';
COMMENT ON COLUMN alerts.ack_due_at IS 'Acknowledgement deadline (raised_at + the procedure deadline, ALR-03).';
COMMENT ON COLUMN alerts.overdue_at IS 'When the automatic escalation for a missed acknowledgement deadline happened.';
COMMENT ON COLUMN alerts.dedup_key IS 'At most one open alert per key (technical: camera and fault).';
COMMENT ON COLUMN alerts.forces_calls IS 'Calls to police/gendarmerie: [{"service", "called_at", "reference", "by", "share_link_id"}].';
GRANT SELECT, INSERT, UPDATE ON alerts TO vms_app;  -- INSERT: manual alerts
ALTER TABLE alerts ENABLE ROW LEVEL SECURITY;
CREATE POLICY alerts_scope ON alerts TO vms_app
    USING (vms_visible(tenant_id)) WITH CHECK (vms_visible(tenant_id));

CREATE TABLE alert_history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id   bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    tenant_id  text NOT NULL REFERENCES tenants (id),
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    action     text NOT NULL,
    from_state text,
    to_state   text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_history_alert ON alert_history (alert_id, id);
COMMENT ON TABLE alert_history IS 'Every transition of an alert, who and when (also in the audit log).';
GRANT SELECT, INSERT ON alert_history TO vms_app;
ALTER TABLE alert_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY alert_history_scope ON alert_history TO vms_app
    USING (vms_visible(tenant_id)) WITH CHECK (vms_visible(tenant_id));

CREATE TABLE tickets (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants (id),
    camera_id   text REFERENCES cameras (id) ON DELETE SET NULL,
    alert_id    bigint REFERENCES alerts (id) ON DELETE SET NULL,
    dedup_key   text,
    state       text NOT NULL DEFAULT 'ouvert' CHECK (state IN
        ('ouvert', 'affecte', 'sur_site', 'resolu', 'clos')),
    declarer    text NOT NULL,
    element     text NOT NULL,
    site        text NOT NULL DEFAULT '',
    description text NOT NULL,
    resolution  text,
    assigned_to text,
    opened_at   timestamptz NOT NULL,
    resolved_at timestamptz,
    closed_at   timestamptz,
    CHECK (state NOT IN ('resolu', 'clos') OR (resolution IS NOT NULL AND resolved_at IS NOT NULL))
);
CREATE UNIQUE INDEX tickets_dedup_open ON tickets (dedup_key) WHERE dedup_key IS NOT NULL AND state NOT IN ('resolu', 'clos');
COMMENT ON TABLE tickets IS 'Intervention tickets (CSD-10, CONF-03): opened by technical alerts (one per camera and fault) or by hand.';
GRANT SELECT, INSERT, UPDATE ON tickets TO vms_app;
ALTER TABLE tickets ENABLE ROW LEVEL SECURITY;
CREATE POLICY tickets_scope ON tickets TO vms_app
    USING (vms_visible(tenant_id)) WITH CHECK (vms_visible(tenant_id));

INSERT INTO alert_procedures (kind, title, priority, ack_deadline_s, instructions, checklist) VALUES
    ('intrusion', 'Intrusion dans une zone', 2, 120,
     'Vérifier en direct la présence signalée ; si elle est confirmée, appeler les forces de l''ordre et partager le direct.',
     '["Ouvrir le direct de la caméra", "Confirmer ou infirmer la présence", "Appeler le 17 si la présence est confirmée", "Partager le direct avec l''équipage"]'),
    ('personne_au_sol', 'Personne au sol', 1, 60,
     'Vérifier immédiatement en direct ; si une personne est au sol, appeler les secours (15/18) et guider l''intervention.',
     '["Ouvrir le direct de la caméra", "Confirmer la situation", "Appeler le 15 ou le 18", "Suivre jusqu''à l''arrivée des secours"]'),
    ('objet_abandonne', 'Objet abandonné', 2, 180,
     'Relire les minutes précédentes pour retrouver le dépôt ; ne jamais faire approcher sans avis des forces de l''ordre.',
     '["Relire le dépôt de l''objet", "Vérifier la présence du propriétaire", "Prévenir les forces de l''ordre si doute"]'),
    ('contresens', 'Circulation à contresens', 2, 120, 'Vérifier en direct et prévenir la police municipale.', '["Ouvrir le direct", "Prévenir la police municipale"]'),
    ('densite', 'Densité excessive', 2, 180, 'Évaluer la foule en direct ; prévenir l''organisateur ou les forces de l''ordre.', '["Ouvrir le direct", "Évaluer la situation"]'),
    ('mouvement_foule', 'Mouvement de foule', 1, 60, 'Évaluer en direct ; alerter immédiatement les forces de l''ordre si panique.', '["Ouvrir le direct", "Alerter le 17"]'),
    ('arme', 'Arme détectée', 1, 60, 'Vérifier en direct sans délai ; alerter le 17.', '["Ouvrir le direct", "Alerter le 17"]'),
    ('depart_de_feu', 'Départ de feu', 1, 60, 'Vérifier en direct ; alerter le 18.', '["Ouvrir le direct", "Alerter le 18"]'),
    ('technique', 'Défaut technique', 3, 900, 'Diagnostiquer la caméra (flux, image, enregistrement) ; un ticket d''intervention est ouvert automatiquement.', '["Vérifier le flux en direct", "Vérifier l''enregistrement", "Compléter le ticket"]'),
    ('externe', 'Alarme externe', 2, 300, 'Consulter la caméra la plus proche et lever le doute.', '["Identifier le site", "Lever le doute", "Prévenir si nécessaire"]'),
    ('manuelle', 'Alerte manuelle', 3, 600, '', '[]');
