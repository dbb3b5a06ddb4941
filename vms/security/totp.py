"""TOTP second factor (RFC 6238: HMAC-SHA1, 6 digits, 30 s steps). Pure.

Implemented on ``hmac``/``hashlib`` rather than a library: the algorithm is a dozen
lines, and the RFC test vectors pin it down. ``verify`` returns the matched time
step so that the caller can store it and refuse the same code twice (a code seen
over a shoulder or on a proxy must not open a second session).
"""

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
    secret = secret_b32.replace(" ", "").upper()
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def hotp(key: bytes, counter: int, digits: int = 6) -> str:
    """RFC 4226 HOTP value of ``counter`` (dynamic truncation, zero-padded)."""
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    (value,) = struct.unpack_from(">I", mac, offset)
    return str((value & 0x7FFFFFFF) % 10**digits).zfill(digits)


def totp(secret_b32: str, at_unix: float, digits: int = 6, step: int = 30) -> str:
    """The code shown by an authenticator at ``at_unix`` (seconds since the epoch)."""
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

    The window absorbs clock drift and the time taken to type the code. A step at or
    before ``last_used_step`` is refused: each code works once. Spaces (« 123 456 »)
    are ignored; anything but ASCII digits is refused without comparing.
    """
    code = "".join(code.split())
    if len(code) != digits or not (code.isascii() and code.isdigit()):
        return None
    key = _key(secret_b32)
    now_step = int(at_unix // step)
    matched: int | None = None
    for candidate in range(max(0, now_step - window), now_step + window + 1):
        if last_used_step is not None and candidate <= last_used_step:
            continue
        # no early exit: the time taken does not tell which step matched
        if hmac.compare_digest(hotp(key, candidate, digits), code) and matched is None:
            matched = candidate
    return matched


def provisioning_uri(secret_b32: str, account: str, issuer: str = "VMS CSD") -> str:
    """``otpauth://`` URI for the enrolment QR code (Google Authenticator key format)."""
    label = quote(f"{issuer}:{account}", safe="")
    query = urlencode(
        {"secret": secret_b32, "issuer": issuer, "algorithm": "SHA1", "digits": 6, "period": 30},
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"
