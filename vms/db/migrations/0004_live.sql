-- Live wall: per-camera live switches (EVD-15), the relay that holds each stream,
-- share links for police and firefighters (CSD-08) and public links (CONF-01),
-- and PTZ locks.

ALTER TABLE cameras
    ADD COLUMN live_enabled boolean NOT NULL DEFAULT true,
    ADD COLUMN live_share_enabled boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN cameras.live_enabled IS
    'Live viewing in the centre; an administrator may switch it off (the relay then refuses).';
COMMENT ON COLUMN cameras.live_share_enabled IS
    'Live transmission outside the centre (share and public links); off by default (EVD-15).';

CREATE TABLE live_relays (
    camera_id  text NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    stream     text NOT NULL,
    relay_url  text NOT NULL,
    recorded   boolean NOT NULL,
    width      integer,
    height     integer,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (camera_id, stream)
);
COMMENT ON TABLE live_relays IS 'Which ingest worker relays each camera stream live.';
GRANT SELECT ON live_relays TO vms_app;
ALTER TABLE live_relays ENABLE ROW LEVEL SECURITY;
CREATE POLICY live_relays_scope ON live_relays TO vms_app
    USING (camera_id IN (SELECT id FROM cameras));

CREATE TABLE live_links (
    id          bigserial PRIMARY KEY,
    token_hash  text NOT NULL UNIQUE,
    kind        text NOT NULL CHECK (kind IN ('partage', 'public')),
    camera_id   text NOT NULL REFERENCES cameras (id),
    tenant_id   text NOT NULL REFERENCES tenants (id),
    stream      text NOT NULL,
    recipient   text NOT NULL DEFAULT '',
    service     text NOT NULL DEFAULT '',
    motif       text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    revoked_by  text,
    uses        integer NOT NULL DEFAULT 0,
    CHECK (expires_at > created_at),
    CHECK (kind = 'public' OR recipient <> '')
);
COMMENT ON TABLE live_links IS
    'Time-limited live links: one named recipient (partage) or many viewers (public).';
GRANT SELECT, INSERT, UPDATE ON live_links TO vms_app;
GRANT USAGE ON SEQUENCE live_links_id_seq TO vms_app;
ALTER TABLE live_links ENABLE ROW LEVEL SECURITY;
CREATE POLICY live_links_scope ON live_links TO vms_app USING (vms_visible(tenant_id));

-- A link is opened by its token, before anyone knows its commune: this function
-- finds it (and counts the use) whatever the scope, and only by the token's hash.
CREATE FUNCTION live_link_use(hash text, at timestamptz) RETURNS SETOF live_links
    LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    UPDATE live_links SET uses = uses + 1
     WHERE token_hash = hash AND revoked_at IS NULL AND expires_at > at
    RETURNING *
$$;
GRANT EXECUTE ON FUNCTION live_link_use(text, timestamptz) TO vms_app;

CREATE TABLE ptz_locks (
    camera_id   text PRIMARY KEY REFERENCES cameras (id) ON DELETE CASCADE,
    tenant_id   text NOT NULL REFERENCES tenants (id),
    holder_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    holder      text NOT NULL,
    rank        integer NOT NULL,
    expires_at  timestamptz NOT NULL
);
COMMENT ON TABLE ptz_locks IS 'Who steers a PTZ camera now (one operator at a time).';
GRANT SELECT, INSERT, UPDATE, DELETE ON ptz_locks TO vms_app;
ALTER TABLE ptz_locks ENABLE ROW LEVEL SECURITY;
CREATE POLICY ptz_locks_scope ON ptz_locks TO vms_app USING (vms_visible(tenant_id));
