-- Video wall: saved layouts ("vues") of the operator console. A view belongs to its
-- author; a shared view is offered to the users of the author's home tenant. Camera
-- ids are stored as saved: the service masks, when it returns a view, every camera
-- the reader may not watch live.

CREATE TABLE wall_views (
    id          bigserial PRIMARY KEY,
    owner_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id   text NOT NULL REFERENCES tenants (id),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    layout      integer NOT NULL CHECK (layout IN (1, 4, 9, 16)),
    tiles       jsonb NOT NULL CHECK (jsonb_typeof(tiles) = 'array'
                                      AND jsonb_array_length(tiles) = layout),
    shared      boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    UNIQUE (owner_id, name)
);
COMMENT ON TABLE wall_views IS 'Saved layouts of the video wall (console "vues").';
COMMENT ON COLUMN wall_views.owner_id IS 'Author; only the author changes the view.';
COMMENT ON COLUMN wall_views.tenant_id IS 'Home tenant of the author when saved: a shared view is offered to the users of this tenant.';
COMMENT ON COLUMN wall_views.name IS 'Display name, unique per author.';
COMMENT ON COLUMN wall_views.layout IS 'Number of tiles: 1, 4, 9 or 16 (square grids).';
COMMENT ON COLUMN wall_views.tiles IS 'JSON array of layout entries, in reading order: a camera id, or null for an empty tile.';
COMMENT ON COLUMN wall_views.shared IS 'Offered to the other users of the tenant (set by supervisors and administrators).';
COMMENT ON COLUMN wall_views.created_at IS 'Creation time.';
COMMENT ON COLUMN wall_views.updated_at IS 'Last change.';
CREATE INDEX wall_views_tenant ON wall_views (tenant_id) WHERE shared;

GRANT SELECT, INSERT, UPDATE, DELETE ON wall_views TO vms_app;
GRANT USAGE ON SEQUENCE wall_views_id_seq TO vms_app;
ALTER TABLE wall_views ENABLE ROW LEVEL SECURITY;
CREATE POLICY wall_views_scope ON wall_views TO vms_app USING (vms_visible(tenant_id));
