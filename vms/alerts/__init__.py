"""The alert desk's worker: alerts from analytics events, technical supervision of the
cameras (alerts and intervention tickets), acknowledgement deadlines (ALR-01..03,
CSD-10). See docs/design/alerts.md."""
