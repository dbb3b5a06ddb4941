-- Playback sessions (each audited with its motive), export requests ("extraits") with
-- the four-eyes rule and their delivery, legal holds placed from the console.

ALTER TABLE cameras ADD COLUMN location text NOT NULL DEFAULT '';
COMMENT ON COLUMN cameras.location IS 'Where the camera is (address, place): shown in evidence bundles.';

CREATE TABLE playback_sessions (
    id          text PRIMARY KEY CHECK (length(id) >= 16),
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    actor       text NOT NULL,
    tenant_id   text NOT NULL REFERENCES tenants (id),
    camera_ids  text[] NOT NULL CHECK (cardinality(camera_ids) BETWEEN 1 AND 4),
    stream      text NOT NULL,
    start_at    timestamptz NOT NULL,
    end_at      timestamptz NOT NULL CHECK (end_at > start_at),
    motive      text NOT NULL CHECK (length(btrim(motive)) >= 3),
    unmasked    boolean NOT NULL DEFAULT false,
    source_ip   text,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    ended_at    timestamptz
);
COMMENT ON TABLE playback_sessions IS 'A user watching recordings of some cameras over a time range, with the motive given.';
COMMENT ON COLUMN playback_sessions.unmasked IS 'Privacy masks lifted (LAW-09): the unmasked stream is served.';
GRANT SELECT, INSERT, UPDATE ON playback_sessions TO vms_app;
ALTER TABLE playback_sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY playback_sessions_scope ON playback_sessions TO vms_app
    USING (vms_visible(tenant_id));

CREATE TABLE exports (
    id             bigserial PRIMARY KEY,
    tenant_id      text NOT NULL REFERENCES tenants (id),
    camera_ids     text[] NOT NULL CHECK (cardinality(camera_ids) BETWEEN 1 AND 16),
    start_at       timestamptz NOT NULL,
    end_at         timestamptz NOT NULL CHECK (end_at > start_at),
    motive         text NOT NULL CHECK (length(btrim(motive)) >= 3),
    service        text NOT NULL,
    officer        text NOT NULL CHECK (length(btrim(officer)) >= 2),
    reference      text NOT NULL CHECK (length(btrim(reference)) >= 2),
    overlay        boolean NOT NULL DEFAULT false,
    requested_by   text NOT NULL,
    requester_id   bigint REFERENCES users (id) ON DELETE SET NULL,
    status         text NOT NULL CHECK (status IN ('a_valider', 'en_file', 'en_cours', 'pret',
                       'refuse', 'echec', 'detruit')),
    approved_by    text,
    approved_at    timestamptz,
    refusal        text,
    progress       real NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    error          text,
    bundle_path    text,
    bundle_sha256  text,
    bundle_bytes   bigint,
    manifest       jsonb,
    created_at     timestamptz NOT NULL,
    ready_at       timestamptz,
    downloads      integer NOT NULL DEFAULT 0,
    delivered_at   timestamptz,
    expires_at     timestamptz,
    destroyed_at   timestamptz
);
CREATE INDEX exports_status ON exports (status, created_at);
COMMENT ON TABLE exports IS 'Export requests and the export journal (LAW-05): who asked what, for whom, why; its approval, production, delivery and destruction.';
COMMENT ON COLUMN exports.status IS 'a_valider (four-eyes), en_file, en_cours, pret, refuse, echec, detruit.';
COMMENT ON COLUMN exports.expires_at IS 'The bundle is destroyed then (a month at most after delivery, unless under a hold).';
GRANT SELECT, INSERT, UPDATE ON exports TO vms_app;
GRANT USAGE ON SEQUENCE exports_id_seq TO vms_app;
ALTER TABLE exports ENABLE ROW LEVEL SECURITY;
CREATE POLICY exports_scope ON exports TO vms_app USING (vms_visible(tenant_id));

-- holds placed from the console belong to the commune of their cameras; a user sees a
-- hold only if every camera it covers is in the user's perimeter
ALTER TABLE legal_holds ADD COLUMN tenant_id text REFERENCES tenants (id);
ALTER TABLE legal_holds ADD COLUMN created_by text NOT NULL DEFAULT '';
COMMENT ON COLUMN legal_holds.tenant_id IS 'Commune of the cameras (console holds); NULL for holds placed with the CLI.';
GRANT INSERT, UPDATE ON legal_holds TO vms_app;
ALTER TABLE legal_holds ENABLE ROW LEVEL SECURITY;
CREATE POLICY legal_holds_scope ON legal_holds TO vms_app
    USING (camera_ids <@ ARRAY(SELECT id FROM cameras))
    WITH CHECK (vms_visible(tenant_id) AND camera_ids <@ ARRAY(SELECT id FROM cameras));
