"""TOTP second factor (RFC 6238: HMAC-SHA1, 6 digits, 30 s steps). Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode


def new_secret() -> str:
    """160 random bits, base32 without padding (what authenticator apps expect)."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _key(secret_b32: str) -> bytes:
    padded = secret_b32.upper() + "=" * (-len(secret_b32) % 8)
    return base64.b32decode(padded)


def hotp(key: bytes, counter: int, digits: int = 6) -> str:
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    (value,) = struct.unpack_from(">I", mac, offset)
    return str((value & 0x7FFFFFFF) % 10**digits).zfill(digits)


def totp(secret_b32: str, at_unix: float, digits: int = 6, step: int = 30) -> str:
    return hotp(_key(secret_b32), int(at_unix // step), digits)


def verify(
    secret_b32: str,
    code: str,
    at_unix: float,
    *,
    window: int = 1,
    last_used_step: int | None = None,
    digits: int = 6,
    step: int = 30,
) -> int | None:
    """The time step ``code`` matches within ±``window`` steps of ``at_unix``, or None.
    A step at or before ``last_used_step`` is refused: a code works once."""
    code = code.replace(" ", "")
    if len(code) != digits or not code.isdigit():
        return None
    key = _key(secret_b32)
    now_step = int(at_unix // step)
    for candidate in range(now_step - window, now_step + window + 1):
        if last_used_step is not None and candidate <= last_used_step:
            continue
        if hmac.compare_digest(hotp(key, candidate, digits), code):
            return candidate
    return None


def provisioning_uri(secret_b32: str, account: str, issuer: str = "VMS CSD") -> str:
    label = quote(f"{issuer}:{account}")
    query = urlencode(
        {"secret": secret_b32, "issuer": issuer, "algorithm": "SHA1", "digits": 6, "period": 30},
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"
