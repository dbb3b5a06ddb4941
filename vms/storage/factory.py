"""Builds the replica adapters from the configuration."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from vms.config import Config, ReplicaConfig
from vms.domain.ports import BlobStore
from vms.errors import invalid
from vms.storage.fs import FsBlobStore

logger = logging.getLogger(__name__)


def _secret(env: str, replica: str) -> str:
    value = os.environ.get(env, "")
    if not value:
        raise invalid(
            f"Secret manquant pour la réplique « {replica} » : "
            f"définissez la variable d'environnement {env}."
        )
    return value


def build_replica(r: ReplicaConfig, data_dir: Path) -> BlobStore:
    if r.kind == "fs":
        root = Path(r.path)
        root = root if root.is_absolute() else data_dir / root
        root.mkdir(parents=True, exist_ok=True)
        return FsBlobStore(r.name, root)
    from vms.storage.s3 import S3BlobStore

    return S3BlobStore(
        r.name, r.endpoint, r.bucket, _secret(r.access_key_env, r.name),
        _secret(r.secret_key_env, r.name), secure=r.secure, region=r.region,
        object_lock=r.object_lock,
    )  # fmt: skip


def build_replicas(config: Config, data_dir: Path) -> list[BlobStore]:
    """Configured replicas; by default two local directories ("two data centres")."""
    replicas = config.storage.replicas or [
        ReplicaConfig(name="a", kind="fs", path="replica-a"),  # type: ignore[call-arg]
        ReplicaConfig(name="b", kind="fs", path="replica-b"),  # type: ignore[call-arg]
    ]
    stores = [build_replica(r, data_dir) for r in replicas]
    warn_shared_filesystems(stores)
    return stores


def warn_shared_filesystems(stores: list[BlobStore]) -> None:
    """Two local replicas on one filesystem share their blocks (segments are hard
    linked): they protect against a deletion, not against the loss of the disk."""
    seen: dict[int, str] = {}
    for store in stores:
        if isinstance(store, FsBlobStore):
            dev = store.root.stat().st_dev
            if dev in seen:
                logger.warning(
                    "replicas %s and %s are on the same filesystem: one disk, not two copies",
                    seen[dev],
                    store.name,
                )
            seen.setdefault(dev, store.name)
