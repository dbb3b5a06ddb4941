-- The right to read a commune's anonymised alert statistics (ALR-05: views for the
-- ethics and monitoring committees; vms.domain.access.Action.READ_STATISTICS). No image,
-- no login, no free text: see docs/design/reports.md, « Vue anonymisée ».

ALTER TABLE grants DROP CONSTRAINT grants_action_check, ADD CONSTRAINT grants_action_check
    CHECK (action IN ('view_live', 'playback', 'export', 'ptz', 'manage_holds', 'lift_masks',
        'configure_analytics', 'admin_users', 'admin_cameras', 'read_audit', 'handle_alerts',
        'alert_input', 'read_statistics'));
