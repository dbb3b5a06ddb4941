-- Operator web tier: the tenant of a camera group readable whatever the caller's
-- scope (a foreign group id is refused, not overwritten), and row-level security on
-- group membership.

CREATE FUNCTION tenant_of_group(group_id text) RETURNS text LANGUAGE sql STABLE
    SECURITY DEFINER SET search_path = public AS $$
    SELECT tenant_id FROM camera_groups WHERE id = group_id
$$;
GRANT EXECUTE ON FUNCTION tenant_of_group(text) TO vms_app;

ALTER TABLE camera_group_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY members_scope ON camera_group_members TO vms_app
    USING (group_id IN (SELECT id FROM camera_groups)
           AND camera_id IN (SELECT id FROM cameras));

-- vms.audit_all adds the entries that concern no tenant (unknown logins, system
-- events) to those of the tenants in scope; it never opens other tenants' entries.
DROP POLICY audit_read ON audit;
CREATE POLICY audit_read ON audit FOR SELECT TO vms_app USING (
    vms_visible(tenant_id)
    OR (tenant_id IS NULL AND current_setting('vms.audit_all', true) = 'on'));
