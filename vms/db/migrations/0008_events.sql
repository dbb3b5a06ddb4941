-- Analytics events (CSD-05, LAW-10): what a rule raised on a camera, with the model
-- that saw it. Not partitioned yet (volumes are small next to segments); read by the
-- operator service under row-level security like the recordings.

CREATE TABLE events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    camera_id   text NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    rule_id     text NOT NULL,
    kind        text NOT NULL,
    cls         text NOT NULL,
    track_id    integer,
    confidence  real NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    boxes       jsonb NOT NULL,
    label       text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    model       text NOT NULL
);
CREATE INDEX events_camera_time ON events (camera_id, at DESC);
CREATE INDEX events_time ON events (at DESC);
COMMENT ON TABLE events IS 'Analytics events: a rule raised on a camera; the model is recorded with each (LAW-10).';
COMMENT ON COLUMN events.model IS 'Detector model name, version and backend that produced the detections.';
GRANT SELECT ON events TO vms_app;
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY events_scope ON events TO vms_app USING (camera_id IN (SELECT id FROM cameras));
