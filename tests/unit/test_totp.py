"""TOTP against the RFC 6238 test vectors, replay and window edges."""

from __future__ import annotations

import base64

import pytest

from vms.security import totp

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("at", "code"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_rfc6238_sha1_vectors(at: int, code: str) -> None:
    assert totp.totp(RFC_SECRET, at, digits=8) == code


def test_a_code_is_accepted_once_within_the_window() -> None:
    secret = totp.new_secret()
    now = 1_800_000_000.0
    code = totp.totp(secret, now)
    step = totp.verify(secret, code, now)
    assert step == int(now // 30)
    assert totp.verify(secret, code, now, last_used_step=step) is None  # replay
    # the previous and next steps are accepted, two steps away is not
    assert totp.verify(secret, totp.totp(secret, now - 30), now) == step - 1
    assert totp.verify(secret, totp.totp(secret, now + 30), now) == step + 1
    assert totp.verify(secret, totp.totp(secret, now - 60), now) is None


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_are_refused(bad: str) -> None:
    assert totp.verify(totp.new_secret(), bad, 1_800_000_000.0) is None


def test_spaces_in_a_code_are_ignored_and_the_uri_names_the_issuer() -> None:
    secret = totp.new_secret()
    code = totp.totp(secret, 1_800_000_000.0)
    assert totp.verify(secret, f"{code[:3]} {code[3:]}", 1_800_000_000.0) is not None
    uri = totp.provisioning_uri(secret, "alice")
    assert uri.startswith("otpauth://totp/VMS%20CSD%3Aalice?secret=" + secret)
    assert "period=30" in uri and "digits=6" in uri
