"""Pure domain: no IO library may be imported here (import-linter contract)."""
