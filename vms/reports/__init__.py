"""Reports (EVD-12, CONF-02, CONF-03, LAW-04, CONF-05, ALR-05): pure figure computation
in ``figures``, the queries that feed it in ``queries``, stored monthly reports and the
reversibility archive in ``generate``."""
