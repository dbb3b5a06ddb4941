"""The installation's export-signing key (Ed25519).

The private key is a PKCS#8 PEM file readable by the service account only (0600),
created on first use; it never leaves the installation. Bundles carry the public key
for convenience; its fingerprint is what an installation publishes (see
docs/design/evidence.md, "Key management").
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vms.errors import invalid, unavailable
from vms.messages import msg

logger = logging.getLogger(__name__)


class Signer:
    """Signs manifests with the installation's Ed25519 key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> Signer:
        """A throw-away key (tests, benchmarks)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, path: Path) -> Signer:
        """Load the key at ``path``, creating it (mode 0600, exclusive create, fsynced)
        when the file does not exist yet."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return cls._create(path)
        except OSError as err:
            raise unavailable(msg("key.unreadable", path=path), str(err)) from err
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            logger.warning("export signing key %s is readable by others (mode %o)", path, mode)
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as err:
            raise invalid(msg("key.unreadable", path=path), str(err)) from err
        if not isinstance(key, Ed25519PrivateKey):
            raise invalid(msg("key.unreadable", path=path), "not an Ed25519 key")
        return cls(key)

    @classmethod
    def _create(cls, path: Path) -> Signer:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls.load_or_create(path)  # another process created it meanwhile
        except OSError as err:
            raise unavailable(msg("key.unreadable", path=path), str(err)) from err
        try:
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        logger.info("created export signing key %s (%s)", path, fingerprint(key.public_key()))
        return cls(key)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def public_pem(self) -> bytes:
        return public_pem(self.public_key)

    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def sign(self, data: bytes) -> bytes:
        """Raw 64-byte Ed25519 signature (what ``openssl pkeyutl -rawin`` checks)."""
        return self._key.sign(data)


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_pem(data: bytes, source: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as err:
        raise invalid(msg("key.public_invalid", source=source), str(err)) from err
    if not isinstance(key, Ed25519PublicKey):
        raise invalid(msg("key.public_invalid", source=source), "not an Ed25519 key")
    return key


def fingerprint(key: Ed25519PublicKey) -> str:
    """``SHA256:`` + hex SHA-256 of the 32 raw public-key bytes, in groups of four."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha256(raw).hexdigest()
    return "SHA256:" + ":".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def signature_valid(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
