"""Password policy (LAW-11: CNIL deliberation 2022-100, ANSSI) and Argon2id hashing.

Policy: with the password as the only factor, at least 12 characters mixing the four
types (lower case, upper case, digits, other); with a second factor, 8 characters
and three types suffice. The login must not appear in the password. A maximum length
bounds the hashing work an attacker can make the server do.

Hashing: Argon2id (memory-hard, the OWASP/ANSSI recommendation), parameters kept in
the hash string so that ``needs_rehash`` can upgrade old hashes at the next login.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import argon2

from vms.errors import invalid


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    min_length: int = 12
    min_classes: int = 4
    min_length_with_mfa: int = 8
    min_classes_with_mfa: int = 3
    max_length: int = 256


def _classes(password: str) -> int:
    """How many of the four types (lower, upper, digit, other) ``password`` uses."""
    return sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )


def check_password(
    policy: PasswordPolicy, password: str, *, login: str = "", with_mfa: bool = False
) -> None:
    """Raise VmsError(INVALID_ARGUMENT), in French, when ``password`` breaks the policy."""
    length = policy.min_length_with_mfa if with_mfa else policy.min_length
    classes = policy.min_classes_with_mfa if with_mfa else policy.min_classes
    if len(password) < length:
        raise invalid(f"Mot de passe trop court : {length} caractères au minimum.")
    if len(password) > policy.max_length:
        raise invalid(f"Mot de passe trop long : {policy.max_length} caractères au maximum.")
    if _classes(password) < classes:
        raise invalid(
            f"Le mot de passe doit mélanger {classes} types de caractères (minuscules, "
            "majuscules, chiffres, caractères spéciaux)."
        )
    login = login.strip()
    if len(login) >= 3 and login.casefold() in password.casefold():
        raise invalid("Le mot de passe ne doit pas contenir l'identifiant.")


class PasswordHasher:
    """Argon2id. ``verify`` never raises for a wrong password: it returns False."""

    def __init__(self, time_cost: int = 3, memory_cost: int = 65536, parallelism: int = 2) -> None:
        self.params = (time_cost, memory_cost, parallelism)
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when ``stored_hash`` used weaker (or other) parameters than this hasher."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except argon2.exceptions.InvalidHashError:
            return True


_dummy_hashes: dict[tuple[int, int, int], str] = {}


def dummy_hash(hasher: PasswordHasher) -> str:
    """A hash of a random password, with ``hasher``'s parameters, computed once.

    On a login for an unknown user, verify the offered password against this hash:
    the answer takes as long as for a known user, so timing does not tell which
    logins exist. It never verifies (nobody knows the random password).
    """
    found = _dummy_hashes.get(hasher.params)
    if found is None:
        found = _dummy_hashes[hasher.params] = hasher.hash(secrets.token_urlsafe(32))
    return found
