"""Password policy (CNIL/ANSSI thresholds) and Argon2id hashing."""

from __future__ import annotations

import pytest

from vms.errors import ErrorKind, VmsError
from vms.security.passwords import PasswordHasher, PasswordPolicy, check_password

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
