"""Encryption at rest (EVD-06): AES-256-GCM envelope encryption.

A master key (32 bytes, base64, from an environment variable or a 0600 file; never a
default, never in the repository) wraps one data key per commune. Wrapped keys live in
the ``tenant_keys`` table, so both data centres decrypt with the same master key, and
``export_keys`` hands a commune's data keys to the public authority.

Blob layout: b"VMSE" | version (1) | key_id (u32) | len(tenant) (1) | tenant | nonce (12)
| ciphertext+tag. The header is authenticated as associated data.
"""

from __future__ import annotations

import base64
import os
import struct
import threading
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vms.config import EncryptionConfig
from vms.errors import invalid
from vms.messages import msg

MAGIC = b"VMSE"
VERSION = 1


def load_master_key(config: EncryptionConfig) -> bytes:
    text = os.environ.get(config.master_key_env, "") if config.master_key_env else ""
    if not text and config.master_key_file:
        try:
            text = Path(config.master_key_file).read_text(encoding="ascii").strip()
        except OSError:
            text = ""
    if not text:
        raise invalid(
            msg("crypto.master_key_missing", env=config.master_key_env,
                path=config.master_key_file or "-")
        )  # fmt: skip
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError as err:
        raise invalid(msg("crypto.master_key_invalid")) from err
    if len(key) != 32:
        raise invalid(msg("crypto.master_key_invalid"))
    return key


class Keyring:
    """Per-tenant data keys, wrapped by the master key, stored in PostgreSQL."""

    def __init__(self, master_key: bytes, pool: Any) -> None:
        self._master = AESGCM(master_key)
        self.pool = pool
        self._keys: dict[tuple[str, int], bytes] = {}
        self._current: dict[str, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: EncryptionConfig, pool: Any) -> Keyring:
        return cls(load_master_key(config), pool)

    def _wrap(self, tenant: str, key_id: int, data_key: bytes) -> bytes:
        nonce = os.urandom(12)
        aad = f"{tenant}:{key_id}".encode()
        return nonce + self._master.encrypt(nonce, data_key, aad)

    def _unwrap(self, tenant: str, key_id: int, wrapped: bytes) -> bytes:
        aad = f"{tenant}:{key_id}".encode()
        try:
            return self._master.decrypt(wrapped[:12], wrapped[12:], aad)
        except InvalidTag as err:
            raise invalid(msg("crypto.decrypt_failed", key=f"clé {tenant}/{key_id}")) from err

    def _load(self, tenant: str, key_id: int | None) -> tuple[int, bytes]:
        with self._lock:
            if key_id is None and tenant in self._current:
                key_id = self._current[tenant]
            if key_id is not None and (tenant, key_id) in self._keys:
                return key_id, self._keys[(tenant, key_id)]
        with self.pool.connection() as conn:
            if key_id is None:
                row = conn.execute(
                    "SELECT key_id, wrapped_key FROM tenant_keys WHERE tenant_id = %s "
                    "ORDER BY key_id DESC LIMIT 1",
                    (tenant,),
                ).fetchone()
                if row is None:
                    data_key = AESGCM.generate_key(bit_length=256)
                    conn.execute(
                        "INSERT INTO tenants (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                        (tenant, tenant),
                    )
                    conn.execute(
                        "INSERT INTO tenant_keys (tenant_id, key_id, wrapped_key) "
                        "VALUES (%s, 1, %s) ON CONFLICT DO NOTHING",
                        (tenant, self._wrap(tenant, 1, data_key)),
                    )
                    row = conn.execute(
                        "SELECT key_id, wrapped_key FROM tenant_keys WHERE tenant_id = %s "
                        "AND key_id = 1",
                        (tenant,),
                    ).fetchone()
            else:
                row = conn.execute(
                    "SELECT key_id, wrapped_key FROM tenant_keys WHERE tenant_id = %s "
                    "AND key_id = %s",
                    (tenant, key_id),
                ).fetchone()
        if row is None:
            raise invalid(msg("crypto.decrypt_failed", key=f"clé {tenant}/{key_id}"))
        kid, data_key = int(row[0]), self._unwrap(tenant, int(row[0]), bytes(row[1]))
        with self._lock:
            self._keys[(tenant, kid)] = data_key
            self._current.setdefault(tenant, kid)
        return kid, data_key

    def encrypt(self, tenant: str, plaintext: bytes) -> bytes:
        key_id, data_key = self._load(tenant, None)
        t = tenant.encode()
        header = MAGIC + struct.pack(">BIB", VERSION, key_id, len(t)) + t
        nonce = os.urandom(12)
        return header + nonce + AESGCM(data_key).encrypt(nonce, plaintext, header)

    def decrypt(self, blob: bytes, key: str = "") -> bytes:
        if not blob.startswith(MAGIC) or len(blob) < 10:
            raise invalid(msg("crypto.decrypt_failed", key=key))
        version, key_id, tlen = struct.unpack_from(">BIB", blob, 4)
        if version != VERSION:
            raise invalid(msg("crypto.decrypt_failed", key=key))
        header_end = 10 + tlen
        tenant = blob[10:header_end].decode()
        _, data_key = self._load(tenant, key_id)
        nonce = blob[header_end : header_end + 12]
        try:
            return AESGCM(data_key).decrypt(nonce, blob[header_end + 12 :], blob[:header_end])
        except InvalidTag as err:
            raise invalid(msg("crypto.decrypt_failed", key=key)) from err

    def export_keys(self, tenant: str) -> dict[str, Any]:
        """Unwrapped data keys of a commune, for the public authority (EVD-06)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT key_id, wrapped_key, created_at FROM tenant_keys WHERE tenant_id = %s "
                "ORDER BY key_id",
                (tenant,),
            ).fetchall()
        return {
            "tenant": tenant,
            "algorithm": "AES-256-GCM",
            "blob_format": "VMSE|ver u8|key_id u32|len u8|tenant|nonce 12|ciphertext+tag; "
            "header is associated data",
            "keys": [
                {
                    "key_id": int(r[0]),
                    "key_base64": base64.b64encode(
                        self._unwrap(tenant, int(r[0]), bytes(r[1]))
                    ).decode(),
                    "created_at": r[2].isoformat(),
                }
                for r in rows
            ],
        }
