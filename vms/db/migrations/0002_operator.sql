-- Operator service: tenants as communes / intercommunalities / CSD, conventions,
-- camera groups, accounts with habilitation, grants, sessions, API tokens, and the
-- hash-chained audit log (LAW-03, LAW-04, LAW-11, EVD-01..03, EVD-13, CSD-06).
--
-- Isolation: the operator service runs its queries as the role vms_app (SET LOCAL
-- ROLE in each transaction, or a login role that is a member of it). Row-level
-- security on tenant-owned tables lets vms_app see only the tenants listed in the
-- transaction setting vms.tenants, so a query that forgot its scope returns nothing
-- foreign. The ingest worker and migrations run as the owner, which RLS does not bind.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vms_app') THEN
        CREATE ROLE vms_app NOLOGIN;
    END IF;
END
$$;

-- Tenants ---------------------------------------------------------------------------

ALTER TABLE tenants
    ADD COLUMN kind text NOT NULL DEFAULT 'commune'
        CHECK (kind IN ('commune', 'intercommunality', 'csd')),
    ADD COLUMN parent_id text REFERENCES tenants (id);
COMMENT ON COLUMN tenants.kind IS 'commune, intercommunality (groups communes) or csd (operates for communes by convention).';
COMMENT ON COLUMN tenants.parent_id IS 'Intercommunality a commune belongs to, if any.';

CREATE TABLE conventions (
    id            bigserial PRIMARY KEY,
    csd_id        text NOT NULL REFERENCES tenants (id),
    commune_id    text NOT NULL REFERENCES tenants (id),
    reference     text NOT NULL,
    starts_on     date NOT NULL,
    ends_on       date,
    CHECK (ends_on IS NULL OR ends_on >= starts_on)
);
COMMENT ON TABLE conventions IS 'Agreement by which a CSD watches the cameras of a commune (CSD-06).';
COMMENT ON COLUMN conventions.csd_id IS 'The supervision centre.';
COMMENT ON COLUMN conventions.commune_id IS 'The commune (or intercommunality) whose cameras it watches.';
COMMENT ON COLUMN conventions.reference IS 'Reference of the signed convention.';
COMMENT ON COLUMN conventions.starts_on IS 'First day of validity.';
COMMENT ON COLUMN conventions.ends_on IS 'Last day of validity (inclusive); NULL while in force.';

-- Camera groups ---------------------------------------------------------------------

CREATE TABLE camera_groups (
    id         text PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants (id),
    name       text NOT NULL
);
COMMENT ON TABLE camera_groups IS 'Named sets of cameras of one commune, the unit of per-camera grants.';
COMMENT ON COLUMN camera_groups.id IS 'Stable identifier.';
COMMENT ON COLUMN camera_groups.tenant_id IS 'Owning commune.';
COMMENT ON COLUMN camera_groups.name IS 'Display name (French).';

CREATE TABLE camera_group_members (
    group_id   text NOT NULL REFERENCES camera_groups (id) ON DELETE CASCADE,
    camera_id  text NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, camera_id)
);
COMMENT ON TABLE camera_group_members IS 'Membership of cameras in groups.';
COMMENT ON COLUMN camera_group_members.group_id IS 'Group.';
COMMENT ON COLUMN camera_group_members.camera_id IS 'Camera (of the group''s commune).';

-- Accounts --------------------------------------------------------------------------

CREATE TABLE users (
    id                    bigserial PRIMARY KEY,
    login                 text NOT NULL UNIQUE CHECK (login ~ '^[a-z0-9][a-z0-9._@-]{1,63}$'),
    display_name          text NOT NULL,
    email                 text,
    role                  text NOT NULL CHECK (role IN
        ('operator', 'supervisor', 'admin', 'auditor', 'commune_viewer', 'requester')),
    home_tenant_id        text NOT NULL REFERENCES tenants (id),
    password_hash         text NOT NULL,
    password_changed_at   timestamptz NOT NULL DEFAULT now(),
    password_valid_days   integer CHECK (password_valid_days BETWEEN 1 AND 3650),
    must_change_password  boolean NOT NULL DEFAULT false,
    habilitation          text CHECK (habilitation IN ('police_nationale', 'gendarmerie',
        'police_municipale', 'agent_agree', 'operateur_csd', 'admin_technique')),
    habilitation_ref      text,
    habilitation_expires_on date,
    mfa_required          boolean NOT NULL DEFAULT true,
    totp_secret           text,
    totp_last_step        bigint,
    disabled              boolean NOT NULL DEFAULT false,
    failed_logins         integer NOT NULL DEFAULT 0,
    locked_until          timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    CHECK (habilitation IS NULL OR (habilitation_ref IS NOT NULL AND habilitation_expires_on IS NOT NULL))
);
COMMENT ON TABLE users IS 'Accounts of operators, commune staff, requesters, administrators, auditors.';
COMMENT ON COLUMN users.login IS 'Sign-in identifier (lower case).';
COMMENT ON COLUMN users.display_name IS 'Full name shown in the console and the audit.';
COMMENT ON COLUMN users.email IS 'Contact address (optional).';
COMMENT ON COLUMN users.role IS 'Role: the set of screens; rights come from grants.';
COMMENT ON COLUMN users.home_tenant_id IS 'Commune, intercommunality or CSD the user belongs to.';
COMMENT ON COLUMN users.password_hash IS 'Argon2id hash (PHC string).';
COMMENT ON COLUMN users.password_changed_at IS 'Last password change.';
COMMENT ON COLUMN users.password_valid_days IS 'Forced validity period set by an administrator (EVD-02); NULL: none.';
COMMENT ON COLUMN users.must_change_password IS 'Set after a reset: the next sign-in must choose a new password.';
COMMENT ON COLUMN users.habilitation IS 'Habilitation type (LAW-03); NULL: no access to images.';
COMMENT ON COLUMN users.habilitation_ref IS 'Reference of the designating act (arrêté, décision).';
COMMENT ON COLUMN users.habilitation_expires_on IS 'Last day of validity of the habilitation (inclusive).';
COMMENT ON COLUMN users.mfa_required IS 'A TOTP second factor is required at sign-in.';
COMMENT ON COLUMN users.totp_secret IS 'Base32 TOTP secret; NULL until enrolled.';
COMMENT ON COLUMN users.totp_last_step IS 'Last accepted TOTP time step (replay protection).';
COMMENT ON COLUMN users.disabled IS 'Disabled accounts cannot sign in; their sessions are revoked.';
COMMENT ON COLUMN users.failed_logins IS 'Consecutive failed sign-ins (reset on success).';
COMMENT ON COLUMN users.locked_until IS 'Temporary lockout after repeated failures.';
COMMENT ON COLUMN users.created_at IS 'Creation time.';

CREATE TABLE grants (
    id               bigserial PRIMARY KEY,
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    action           text NOT NULL CHECK (action IN ('view_live', 'playback', 'export', 'ptz',
        'manage_holds', 'lift_masks', 'configure_analytics', 'admin_users', 'admin_cameras',
        'read_audit')),
    tenant_id        text NOT NULL REFERENCES tenants (id),
    camera_group_id  text REFERENCES camera_groups (id) ON DELETE CASCADE,
    UNIQUE NULLS NOT DISTINCT (user_id, action, tenant_id, camera_group_id)
);
COMMENT ON TABLE grants IS 'Deny by default: one row per allowed action, per commune, optionally per camera group.';
COMMENT ON COLUMN grants.user_id IS 'Grantee.';
COMMENT ON COLUMN grants.action IS 'Allowed action.';
COMMENT ON COLUMN grants.tenant_id IS 'Commune whose cameras/records the grant covers.';
COMMENT ON COLUMN grants.camera_group_id IS 'Restricts the grant to one camera group; NULL: every camera of the commune.';

CREATE TABLE sessions (
    id_hash        text PRIMARY KEY,
    user_id        bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    mfa_done       boolean NOT NULL DEFAULT false,
    csrf_token     text NOT NULL,
    source_ip      text,
    user_agent     text,
    totp_pending   text
);
COMMENT ON TABLE sessions IS 'Console sessions; the cookie holds a random token, the table its SHA-256.';
COMMENT ON COLUMN sessions.id_hash IS 'SHA-256 (hex) of the session token.';
COMMENT ON COLUMN sessions.user_id IS 'Signed-in user.';
COMMENT ON COLUMN sessions.created_at IS 'Sign-in time (absolute timeout counts from here).';
COMMENT ON COLUMN sessions.last_seen_at IS 'Last request (idle timeout counts from here).';
COMMENT ON COLUMN sessions.expires_at IS 'Absolute expiry.';
COMMENT ON COLUMN sessions.mfa_done IS 'Second factor verified (or not required).';
COMMENT ON COLUMN sessions.csrf_token IS 'Token that state-changing requests must echo.';
COMMENT ON COLUMN sessions.source_ip IS 'Client address at sign-in.';
COMMENT ON COLUMN sessions.user_agent IS 'Browser at sign-in.';
COMMENT ON COLUMN sessions.totp_pending IS 'TOTP secret offered during enrolment, until a code confirms it.';
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id            bigserial PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL,
    token_hash    text NOT NULL UNIQUE,
    scopes        text[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz
);
COMMENT ON TABLE api_tokens IS 'Bearer tokens of machine clients; they act for their user, narrowed to their scopes.';
COMMENT ON COLUMN api_tokens.user_id IS 'Account the token acts for.';
COMMENT ON COLUMN api_tokens.name IS 'What the token is for.';
COMMENT ON COLUMN api_tokens.token_hash IS 'SHA-256 (hex) of the token; the token itself is shown once.';
COMMENT ON COLUMN api_tokens.scopes IS 'Actions the token may use (a subset of its user''s grants).';
COMMENT ON COLUMN api_tokens.created_at IS 'Creation time.';
COMMENT ON COLUMN api_tokens.expires_at IS 'Expiry; NULL: none.';
COMMENT ON COLUMN api_tokens.revoked_at IS 'Revocation time.';

-- Audit (append-only, hash-chained) ---------------------------------------------------

CREATE TABLE audit (
    seq         bigint PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    tenant_id   text,
    action      text NOT NULL,
    target      text,
    detail      jsonb NOT NULL DEFAULT '{}',
    source_ip   text,
    prev_hash   text NOT NULL,
    hash        text NOT NULL UNIQUE
);
COMMENT ON TABLE audit IS 'Access and administration log (LAW-04): append-only, each entry chained to the previous by SHA-256.';
COMMENT ON COLUMN audit.seq IS 'Position in the chain (consecutive).';
COMMENT ON COLUMN audit.at IS 'When (UTC).';
COMMENT ON COLUMN audit.actor IS 'Who: user login, token name or system.';
COMMENT ON COLUMN audit.tenant_id IS 'Commune concerned, if any (scopes who may read the entry).';
COMMENT ON COLUMN audit.action IS 'What, e.g. auth.login.success, user.create, camera.view_live.';
COMMENT ON COLUMN audit.target IS 'Object: camera, user, hold...';
COMMENT ON COLUMN audit.detail IS 'Time range, motive, recipient, changes...';
COMMENT ON COLUMN audit.source_ip IS 'From where.';
COMMENT ON COLUMN audit.prev_hash IS 'Hash of the previous entry (64 zeros for the first).';
COMMENT ON COLUMN audit.hash IS 'SHA-256 of this entry''s canonical form, prev_hash included.';
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_actor ON audit (actor, at);
CREATE INDEX audit_target ON audit (target, at);

CREATE TABLE audit_anchor (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq        bigint NOT NULL,
    hash       text NOT NULL,
    purged_at  timestamptz NOT NULL
);
COMMENT ON TABLE audit_anchor IS 'Where the chain starts after retention purged older entries.';
COMMENT ON COLUMN audit_anchor.id IS 'Single row.';
COMMENT ON COLUMN audit_anchor.seq IS 'Sequence number of the last purged entry.';
COMMENT ON COLUMN audit_anchor.hash IS 'Its hash: the prev_hash of the first kept entry.';
COMMENT ON COLUMN audit_anchor.purged_at IS 'When the purge ran.';

CREATE FUNCTION audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('vms.audit_purge', true) = 'on' AND TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit is append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_is_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_is_append_only();

-- Privileges of the service role -------------------------------------------------------

GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, conventions, camera_groups,
    camera_group_members, users, grants, sessions, api_tokens TO vms_app;
GRANT SELECT, UPDATE ON cameras TO vms_app;
GRANT SELECT ON runs, segments, gaps, health_samples, legal_holds TO vms_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO vms_app;
GRANT SELECT, INSERT ON audit TO vms_app;
GRANT SELECT ON audit_anchor TO vms_app;

-- Row-level security: vms.tenants is the comma-separated list of tenants the caller
-- may see for this transaction (set by the service from the caller's grants).

CREATE FUNCTION vms_visible(tenant text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT tenant = ANY (string_to_array(coalesce(current_setting('vms.tenants', true), ''), ','))
$$;

ALTER TABLE cameras ENABLE ROW LEVEL SECURITY;
CREATE POLICY cameras_scope ON cameras TO vms_app USING (vms_visible(tenant_id));
ALTER TABLE camera_groups ENABLE ROW LEVEL SECURITY;
CREATE POLICY camera_groups_scope ON camera_groups TO vms_app USING (vms_visible(tenant_id));
ALTER TABLE segments ENABLE ROW LEVEL SECURITY;
CREATE POLICY segments_scope ON segments TO vms_app
    USING (camera_id IN (SELECT id FROM cameras));
ALTER TABLE runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY runs_scope ON runs TO vms_app USING (camera_id IN (SELECT id FROM cameras));
ALTER TABLE gaps ENABLE ROW LEVEL SECURITY;
CREATE POLICY gaps_scope ON gaps TO vms_app USING (camera_id IN (SELECT id FROM cameras));
ALTER TABLE health_samples ENABLE ROW LEVEL SECURITY;
CREATE POLICY health_scope ON health_samples TO vms_app
    USING (camera_id IN (SELECT id FROM cameras));
ALTER TABLE audit ENABLE ROW LEVEL SECURITY;
-- the service writes entries of any tenant (a denied request is logged too), and reads
-- those of the tenants in scope; entries without a tenant only with vms.audit_all.
CREATE POLICY audit_insert ON audit FOR INSERT TO vms_app WITH CHECK (true);
CREATE POLICY audit_read ON audit FOR SELECT TO vms_app USING (
    vms_visible(tenant_id) OR current_setting('vms.audit_all', true) = 'on');

-- The head of the chain, readable by the service whatever its tenant scope.
CREATE FUNCTION audit_head(OUT seq bigint, OUT hash text) LANGUAGE sql STABLE
    SECURITY DEFINER SET search_path = public AS $$
    SELECT seq, hash FROM (
        (SELECT 1 AS rank, seq, hash FROM audit ORDER BY seq DESC LIMIT 1)
        UNION ALL
        SELECT 2, seq, hash FROM audit_anchor
        UNION ALL
        SELECT 3, 0, repeat('0', 64)
    ) candidates ORDER BY rank LIMIT 1
$$;
GRANT EXECUTE ON FUNCTION audit_head() TO vms_app;
