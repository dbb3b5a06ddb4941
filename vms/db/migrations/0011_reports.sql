-- Reports (EVD-12): the monthly recordings report generated on the 1st for each
-- commune, and reports generated on demand that an administrator chose to keep.
CREATE TABLE reports (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    text NOT NULL REFERENCES tenants (id),
    kind         text NOT NULL CHECK (kind IN ('enregistrements')),
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL,
    created_by   text NOT NULL,
    content      text NOT NULL,
    CHECK (period_end > period_start),
    UNIQUE (tenant_id, kind, period_start, period_end)
);
COMMENT ON TABLE reports IS 'Generated reports, one per commune, kind and period (EVD-12).';
COMMENT ON COLUMN reports.id IS 'Report identifier.';
COMMENT ON COLUMN reports.tenant_id IS 'Commune the figures are about.';
COMMENT ON COLUMN reports.kind IS 'Report kind: enregistrements (EVD-12 monthly recordings).';
COMMENT ON COLUMN reports.period_start IS 'First instant of the period (UTC; local midnight).';
COMMENT ON COLUMN reports.period_end IS 'End of the period, excluded.';
COMMENT ON COLUMN reports.created_at IS 'Generation time (UTC).';
COMMENT ON COLUMN reports.created_by IS 'systeme for the automatic monthly run, else the login.';
COMMENT ON COLUMN reports.content IS 'The CSV as delivered (UTF-8 with byte-order mark, ;).';
GRANT SELECT ON reports TO vms_app;
ALTER TABLE reports ENABLE ROW LEVEL SECURITY;
CREATE POLICY reports_scope ON reports TO vms_app USING (vms_visible(tenant_id));

-- The LAW-04 register and the monthly report count recordings already destroyed: the
-- service reads the destruction register of the cameras in scope.
GRANT SELECT ON destruction_register TO vms_app;
ALTER TABLE destruction_register ENABLE ROW LEVEL SECURITY;
CREATE POLICY destruction_register_scope ON destruction_register TO vms_app
    USING (camera_id IN (SELECT id FROM cameras));
