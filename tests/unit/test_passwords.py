"""Password policy (CNIL/ANSSI thresholds) and Argon2id hashing."""

from __future__ import annotations

import pytest

from vms.errors import ErrorKind, VmsError
from vms.security.passwords import PasswordHasher, PasswordPolicy, check_password, dummy_hash

POLICY = PasswordPolicy()


@pytest.mark.parametrize(
    ("password", "with_mfa", "fragment"),
    [
        ("Court1!", False, "trop court"),
        ("toutenminuscules1!", False, "4 types"),
        ("SansChiffresNiSpecial", False, "4 types"),
        ("Abcdefg1", True, None),  # 8 characters, 3 types: fine with a second factor
        ("abcdefg1", True, "3 types"),
        ("Vraiment-Solide-2026", False, None),
        ("X" * 300 + "a1!", False, "trop long"),
    ],
)
def test_policy(password: str, with_mfa: bool, fragment: str | None) -> None:
    if fragment is None:
        check_password(POLICY, password, with_mfa=with_mfa)
        return
    with pytest.raises(VmsError) as err:
        check_password(POLICY, password, with_mfa=with_mfa)
    assert err.value.kind is ErrorKind.INVALID_ARGUMENT
    assert fragment in err.value.message


def test_password_must_not_contain_the_login() -> None:
    with pytest.raises(VmsError, match="identifiant"):
        check_password(POLICY, "Dupont-2026-Secret!", login="dupont")


def test_argon2id_hash_verifies_and_never_raises_on_a_wrong_password() -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    stored = hasher.hash("Vraiment-Solide-2026")
    assert stored.startswith("$argon2id$")
    assert hasher.verify(stored, "Vraiment-Solide-2026")
    assert not hasher.verify(stored, "autre")
    assert not hasher.verify("pas un hash", "autre")
    assert not hasher.needs_rehash(stored)
    stronger = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1)
    assert stronger.needs_rehash(stored)


@pytest.mark.parametrize(
    ("password", "login", "refused"),
    [
        ("xXDuPoNtXx-2026!", "dupont", True),  # case-insensitive
        ("  Dupont-2026-Secret!", " dupont ", True),  # login trimmed
        ("Ab-Vraiment-Solide-2026", "ab", False),  # logins under 3 characters are not checked
        ("Vraiment-Solide-2026", "", False),
    ],
)
def test_login_check(password: str, login: str, refused: bool) -> None:
    if refused:
        with pytest.raises(VmsError, match="identifiant"):
            check_password(POLICY, password, login=login)
    else:
        check_password(POLICY, password, login=login)


def test_length_boundaries() -> None:
    check_password(POLICY, "Abcdefghij1!")  # exactly 12
    with pytest.raises(VmsError, match="12 caractères"):
        check_password(POLICY, "Abcdefghi1!")  # 11
    check_password(POLICY, "Ab1!" * 64)  # exactly 256
    with pytest.raises(VmsError, match="256 caractères"):
        check_password(POLICY, "Ab1!" * 64 + "x")
    with pytest.raises(VmsError, match="8 caractères"):
        check_password(POLICY, "Abcde1!", with_mfa=True)


def test_accented_letters_and_spaces_count_as_their_types() -> None:
    check_password(POLICY, "Été à la mer 2026")  # upper, lower, digits, spaces


def test_dummy_hash_never_verifies_and_is_computed_once_per_parameters() -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    dummy = dummy_hash(hasher)
    assert dummy.startswith("$argon2id$") and not hasher.needs_rehash(dummy)
    assert dummy_hash(hasher) is dummy
    assert dummy_hash(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)) is dummy
    assert not hasher.verify(dummy, "")
    assert not hasher.verify(dummy, "Vraiment-Solide-2026")
    other = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1)
    assert not other.needs_rehash(dummy_hash(other))
