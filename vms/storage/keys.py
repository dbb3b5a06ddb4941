"""Object keys: tenant/camera/stream/YYYY/MM/DD/<stem>.mp4 — validated before any IO."""

from __future__ import annotations

import re

from vms.errors import invalid

_KEY = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


def validate_key(key: str) -> str:
    if not _KEY.match(key) or any(part in ("", ".", "..") for part in key.split("/")):
        raise invalid(f"Clé d'objet invalide : {key!r}")
    return key
