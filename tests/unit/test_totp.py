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


def test_new_secrets_are_160_bits_of_unpadded_base32() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32 and "=" not in secret
    assert len(base64.b32decode(secret)) == 20
    assert secret != totp.new_secret()


def test_window_edges_and_replay_of_earlier_steps() -> None:
    secret = totp.new_secret()
    now = 1_800_000_015.0  # inside step 60_000_000
    step = int(now // 30)
    assert totp.verify(secret, totp.totp(secret, now + 60), now) is None  # two steps ahead
    assert totp.verify(secret, totp.totp(secret, now + 30), now, window=0) is None
    assert totp.verify(secret, totp.totp(secret, now - 60), now, window=2) == step - 2
    # a code older than the last one used is refused even inside the window
    prev = totp.totp(secret, now - 30)
    assert totp.verify(secret, prev, now, last_used_step=step) is None
    assert totp.verify(secret, prev, now, last_used_step=step - 2) == step - 1


@pytest.mark.parametrize("bad", ["١٢٣٤٥٦", "１２３４５６", "12345\u0661", "+12345", "-12345"])
def test_non_ascii_digits_are_refused_without_error(bad: str) -> None:
    assert totp.verify(totp.new_secret(), bad, 1_800_000_000.0) is None


def test_the_first_steps_of_the_epoch_do_not_underflow() -> None:
    secret = totp.new_secret()
    assert totp.verify(secret, totp.totp(secret, 10), 10) == 0


def test_a_lower_case_secret_is_accepted() -> None:
    assert totp.totp(RFC_SECRET.lower(), 59, digits=8) == "94287082"


def test_the_uri_quotes_the_account() -> None:
    uri = totp.provisioning_uri("JBSWY3DPEHPK3PXP", "j.dupont/mairie@ville.fr", issuer="CSD Été")
    label, query = uri.removeprefix("otpauth://totp/").split("?")
    assert label == "CSD%20%C3%89t%C3%A9%3Aj.dupont%2Fmairie%40ville.fr"
    assert query.split("&") == [
        "secret=JBSWY3DPEHPK3PXP",
        "issuer=CSD%20%C3%89t%C3%A9",
        "algorithm=SHA1",
        "digits=6",
        "period=30",
    ]
