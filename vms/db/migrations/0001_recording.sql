-- Recording core: communes, cameras, runs, segments, gaps, health, legal holds,
-- destruction register, tenant keys. Time-partitioned tables carry
-- "PARTITION BY RANGE": native daily partitions, or TimescaleDB hypertables (the
-- migrator removes the clause and calls create_hypertable when the extension exists).

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);
COMMENT ON TABLE settings IS 'Installation-wide facts decided by the program (e.g. partitioning mode).';
COMMENT ON COLUMN settings.key IS 'Setting name.';
COMMENT ON COLUMN settings.value IS 'Setting value as text.';

CREATE TABLE tenants (
    id   text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]*$'),
    name text NOT NULL
);
COMMENT ON TABLE tenants IS 'Communes (or intercommunalities): the isolation boundary.';
COMMENT ON COLUMN tenants.id IS 'Stable identifier (lower case).';
COMMENT ON COLUMN tenants.name IS 'Display name of the commune.';

CREATE TABLE cameras (
    id             text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]*$'),
    tenant_id      text NOT NULL REFERENCES tenants (id),
    name           text NOT NULL,
    retention_days integer NOT NULL CHECK (retention_days BETWEEN 1 AND 30),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE cameras IS 'Cameras; each belongs to exactly one commune.';
COMMENT ON COLUMN cameras.id IS 'Stable camera identifier.';
COMMENT ON COLUMN cameras.tenant_id IS 'Owning commune.';
COMMENT ON COLUMN cameras.name IS 'Display name.';
COMMENT ON COLUMN cameras.retention_days IS 'Retention in days; CSI L252-5 caps it at 30.';
COMMENT ON COLUMN cameras.updated_at IS 'Last change of this row.';

CREATE TABLE runs (
    id        bigint PRIMARY KEY,
    camera_id text NOT NULL REFERENCES cameras (id),
    stream    text NOT NULL,
    start_at  timestamptz NOT NULL,
    end_at    timestamptz,
    end_cause text CHECK (end_cause IN ('connect_refused', 'timeout', 'stall', 'eof',
        'decode_error', 'timestamp_jump', 'crash', 'shutdown', 'storage_error')),
    CHECK (end_at IS NULL OR end_at >= start_at)
);
CREATE INDEX runs_camera_start ON runs (camera_id, stream, start_at DESC);
COMMENT ON TABLE runs IS 'Continuous recording of one stream between interruptions.';
COMMENT ON COLUMN runs.id IS 'Chosen by the ingest worker (time-based 63-bit) so recording never waits for the database.';
COMMENT ON COLUMN runs.camera_id IS 'Recorded camera.';
COMMENT ON COLUMN runs.stream IS 'Stream name (main, sub).';
COMMENT ON COLUMN runs.start_at IS 'Wall time (UTC) of the first frame.';
COMMENT ON COLUMN runs.end_at IS 'Wall time just after the last frame; NULL while recording.';
COMMENT ON COLUMN runs.end_cause IS 'Why the run ended (gap cause).';

CREATE TABLE segments (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    camera_id       text NOT NULL,
    stream          text NOT NULL,
    run_id          bigint NOT NULL,
    start_at        timestamptz NOT NULL,
    end_at          timestamptz NOT NULL,
    media_start_90k bigint NOT NULL CHECK (media_start_90k >= 0),
    duration_90k    bigint NOT NULL CHECK (duration_90k >= 0),
    frames          integer NOT NULL CHECK (frames >= 0),
    bytes           bigint NOT NULL CHECK (bytes > 0),
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    key             text NOT NULL,
    codec           text NOT NULL,
    width           integer NOT NULL CHECK (width >= 0),
    height          integer NOT NULL CHECK (height >= 0),
    encrypted       boolean NOT NULL DEFAULT false,
    replicas        text[] NOT NULL CHECK (cardinality(replicas) >= 1),
    PRIMARY KEY (id, start_at),
    UNIQUE (key, start_at),
    CHECK (end_at >= start_at)
) PARTITION BY RANGE (start_at);
CREATE INDEX segments_camera_time ON segments (camera_id, stream, start_at);
COMMENT ON TABLE segments IS 'Self-contained fMP4 segments; partitioned by day on start_at.';
COMMENT ON COLUMN segments.id IS 'Segment identifier.';
COMMENT ON COLUMN segments.camera_id IS 'Recorded camera.';
COMMENT ON COLUMN segments.stream IS 'Stream name.';
COMMENT ON COLUMN segments.run_id IS 'Run the segment belongs to.';
COMMENT ON COLUMN segments.start_at IS 'Wall time (UTC) of the first frame.';
COMMENT ON COLUMN segments.end_at IS 'Wall time just after the last frame.';
COMMENT ON COLUMN segments.media_start_90k IS 'Media time of the first frame since the run start, 90 kHz ticks.';
COMMENT ON COLUMN segments.duration_90k IS 'Media duration, 90 kHz ticks.';
COMMENT ON COLUMN segments.frames IS 'Number of video frames.';
COMMENT ON COLUMN segments.bytes IS 'Size of the stored object in bytes (ciphertext when encrypted).';
COMMENT ON COLUMN segments.sha256 IS 'SHA-256 (hex) of the stored object bytes.';
COMMENT ON COLUMN segments.key IS 'Object key, identical on every replica.';
COMMENT ON COLUMN segments.codec IS 'Video codec as recorded (no transcoding): h264, hevc.';
COMMENT ON COLUMN segments.width IS 'Coded width in pixels.';
COMMENT ON COLUMN segments.height IS 'Coded height in pixels.';
COMMENT ON COLUMN segments.encrypted IS 'Stored AES-256-GCM encrypted with the tenant data key.';
COMMENT ON COLUMN segments.replicas IS 'Names of the replicas that hold the object.';

CREATE TABLE gaps (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    camera_id text NOT NULL REFERENCES cameras (id),
    stream    text NOT NULL,
    start_at  timestamptz NOT NULL,
    end_at    timestamptz NOT NULL,
    cause     text NOT NULL CHECK (cause IN ('connect_refused', 'timeout', 'stall', 'eof',
        'decode_error', 'timestamp_jump', 'crash', 'shutdown', 'storage_error')),
    detail    text NOT NULL DEFAULT '',
    CHECK (end_at >= start_at)
);
CREATE INDEX gaps_camera_time ON gaps (camera_id, stream, start_at);
COMMENT ON TABLE gaps IS 'The gap ledger: every interruption of recording with its cause.';
COMMENT ON COLUMN gaps.id IS 'Gap identifier.';
COMMENT ON COLUMN gaps.camera_id IS 'Camera whose recording was interrupted.';
COMMENT ON COLUMN gaps.stream IS 'Stream name.';
COMMENT ON COLUMN gaps.start_at IS 'End of the last recorded frame before the interruption (UTC).';
COMMENT ON COLUMN gaps.end_at IS 'Start of the first recorded frame after it (UTC).';
COMMENT ON COLUMN gaps.cause IS 'Cause of the interruption.';
COMMENT ON COLUMN gaps.detail IS 'Free-text detail (error message).';

CREATE TABLE health_samples (
    camera_id      text NOT NULL,
    stream         text NOT NULL,
    at             timestamptz NOT NULL,
    window_s       real NOT NULL CHECK (window_s > 0),
    bitrate_bps    bigint NOT NULL CHECK (bitrate_bps >= 0),
    fps            real NOT NULL CHECK (fps >= 0),
    width          integer NOT NULL,
    height         integer NOT NULL,
    gop_frames     integer NOT NULL,
    clock_drift_ms integer NOT NULL,
    frames         integer NOT NULL
) PARTITION BY RANGE (at);
CREATE INDEX health_camera_time ON health_samples (camera_id, stream, at);
COMMENT ON TABLE health_samples IS 'Stream health as stored (LAW-06, LAW-07); partitioned by day.';
COMMENT ON COLUMN health_samples.camera_id IS 'Camera.';
COMMENT ON COLUMN health_samples.stream IS 'Stream name.';
COMMENT ON COLUMN health_samples.at IS 'End of the sampling window (UTC).';
COMMENT ON COLUMN health_samples.window_s IS 'Length of the window in seconds.';
COMMENT ON COLUMN health_samples.bitrate_bps IS 'Stored bitrate, bits per second.';
COMMENT ON COLUMN health_samples.fps IS 'Frames actually stored per second.';
COMMENT ON COLUMN health_samples.width IS 'Width in pixels.';
COMMENT ON COLUMN health_samples.height IS 'Height in pixels.';
COMMENT ON COLUMN health_samples.gop_frames IS 'Frames between the last two keyframes.';
COMMENT ON COLUMN health_samples.clock_drift_ms IS 'Wall elapsed minus media elapsed since the run start, ms.';
COMMENT ON COLUMN health_samples.frames IS 'Frames stored in the window.';

CREATE TABLE legal_holds (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference    text NOT NULL CHECK (length(btrim(reference)) > 0),
    procedure    text NOT NULL CHECK (procedure IN ('flagrant_delit', 'enquete_preliminaire',
        'information_judiciaire', 'requisition')),
    requested_by text NOT NULL DEFAULT '',
    camera_ids   text[] NOT NULL CHECK (cardinality(camera_ids) >= 1),
    start_at     timestamptz NOT NULL,
    end_at       timestamptz NOT NULL,
    expires_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    released_at  timestamptz,
    released_by  text,
    CHECK (end_at > start_at)
);
COMMENT ON TABLE legal_holds IS 'Judicial holds: footage under a procedure is kept past retention (CSI L252-5).';
COMMENT ON COLUMN legal_holds.id IS 'Hold identifier.';
COMMENT ON COLUMN legal_holds.reference IS 'PV or requisition number of the procedure.';
COMMENT ON COLUMN legal_holds.procedure IS 'Type of procedure.';
COMMENT ON COLUMN legal_holds.requested_by IS 'Requesting officer.';
COMMENT ON COLUMN legal_holds.camera_ids IS 'Cameras covered.';
COMMENT ON COLUMN legal_holds.start_at IS 'Start of the protected time range (UTC).';
COMMENT ON COLUMN legal_holds.end_at IS 'End of the protected time range (UTC).';
COMMENT ON COLUMN legal_holds.expires_at IS 'When the hold lapses; NULL until the procedure ends.';
COMMENT ON COLUMN legal_holds.created_at IS 'When the hold was placed.';
COMMENT ON COLUMN legal_holds.released_at IS 'When the hold was released; NULL while active.';
COMMENT ON COLUMN legal_holds.released_by IS 'Who released it.';

CREATE TABLE destruction_register (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    destroyed_at   timestamptz NOT NULL,
    camera_id      text NOT NULL,
    stream         text NOT NULL,
    start_at       timestamptz NOT NULL,
    end_at         timestamptz NOT NULL,
    key            text NOT NULL,
    sha256         text NOT NULL,
    replicas       text[] NOT NULL,
    reason         text NOT NULL
);
CREATE INDEX destruction_camera_time ON destruction_register (camera_id, start_at);
COMMENT ON TABLE destruction_register IS 'Register of destroyed recordings (LAW-04): what, when, why.';
COMMENT ON COLUMN destruction_register.id IS 'Entry identifier.';
COMMENT ON COLUMN destruction_register.destroyed_at IS 'When the recording was destroyed (UTC).';
COMMENT ON COLUMN destruction_register.camera_id IS 'Camera of the destroyed segment.';
COMMENT ON COLUMN destruction_register.stream IS 'Stream of the destroyed segment.';
COMMENT ON COLUMN destruction_register.start_at IS 'Start of the destroyed footage (UTC).';
COMMENT ON COLUMN destruction_register.end_at IS 'End of the destroyed footage (UTC).';
COMMENT ON COLUMN destruction_register.key IS 'Object key that was deleted.';
COMMENT ON COLUMN destruction_register.sha256 IS 'SHA-256 of the destroyed object.';
COMMENT ON COLUMN destruction_register.replicas IS 'Replicas it was deleted from.';
COMMENT ON COLUMN destruction_register.reason IS 'Why: retention expired, hold released, ...';

CREATE TABLE tenant_keys (
    tenant_id   text NOT NULL REFERENCES tenants (id),
    key_id      integer NOT NULL CHECK (key_id >= 1),
    wrapped_key bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key_id)
);
COMMENT ON TABLE tenant_keys IS 'Per-commune data keys, AES-256-GCM wrapped by the master key (EVD-06).';
COMMENT ON COLUMN tenant_keys.tenant_id IS 'Commune.';
COMMENT ON COLUMN tenant_keys.key_id IS 'Key version within the commune.';
COMMENT ON COLUMN tenant_keys.wrapped_key IS 'nonce || AES-GCM(master key, data key).';
COMMENT ON COLUMN tenant_keys.created_at IS 'When the key was generated.';
