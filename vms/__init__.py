"""VMS core: domain, config, persistence, storage and the operator service."""

__version__ = "0.1.0"
