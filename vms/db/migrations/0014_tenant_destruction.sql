-- End-of-contract destruction of a commune's data (CONF-05), after its reversibility
-- archive. One row per destroyed commune: written when the destruction starts, completed
-- when it ends, so a run that crashed midway is visible and a rerun finishes the job.
-- No foreign key to tenants: the commune's row is the last thing destroyed.
-- Design: docs/design/reversibility.md.

CREATE TABLE tenant_destructions (
    tenant_id       text PRIMARY KEY CHECK (tenant_id ~ '^[a-z0-9][a-z0-9_-]*$'),
    archive_sha256  text NOT NULL CHECK (archive_sha256 ~ '^[0-9a-f]{64}$'),
    requested_by    text NOT NULL CHECK (length(btrim(requested_by)) > 0),
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    counts          jsonb NOT NULL DEFAULT '{}',
    CHECK (finished_at IS NULL OR finished_at >= started_at)
);
COMMENT ON TABLE tenant_destructions IS 'End-of-contract destructions of communes (CONF-05); kept, like the audit log.';
COMMENT ON COLUMN tenant_destructions.tenant_id IS 'Destroyed commune (its tenants row is gone once finished).';
COMMENT ON COLUMN tenant_destructions.archive_sha256 IS 'SHA-256 of the reversibility archive checked before the first run.';
COMMENT ON COLUMN tenant_destructions.requested_by IS 'Who ran the command (cli:<user>).';
COMMENT ON COLUMN tenant_destructions.started_at IS 'When the first run started.';
COMMENT ON COLUMN tenant_destructions.finished_at IS 'When the last run completed the destruction; NULL while unfinished.';
COMMENT ON COLUMN tenant_destructions.counts IS 'What was destroyed, per kind (rows, files, bytes), over every run.';
-- owner only: the service role neither reads nor writes it
