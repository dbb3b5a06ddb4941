-- PTZ: the ingest worker that steers each PTZ camera (it holds the camera's ONVIF
-- credentials; operator services forward the commands it may carry out).

CREATE TABLE ptz_relays (
    camera_id  text PRIMARY KEY REFERENCES cameras (id) ON DELETE CASCADE,
    relay_url  text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ptz_relays IS 'Which ingest worker steers each PTZ camera (ONVIF).';
GRANT SELECT ON ptz_relays TO vms_app;
ALTER TABLE ptz_relays ENABLE ROW LEVEL SECURITY;
CREATE POLICY ptz_relays_scope ON ptz_relays TO vms_app
    USING (camera_id IN (SELECT id FROM cameras));
