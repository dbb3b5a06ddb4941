"""Audit (LAW-04): the tamper-evident chain of access and administration entries."""
