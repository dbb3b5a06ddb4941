"""Local-filesystem replica. Crash-safe writes: temporary name, fsync, rename, fsync dir."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from vms.domain.ports import BlobInfo
from vms.errors import not_found, unavailable
from vms.messages import msg
from vms.storage.keys import validate_key

logger = logging.getLogger(__name__)
_TMP = ".tmp-"


def fsync_dir(path: Path) -> None:
    """Make a rename or a new name in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FsBlobStore:
    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def _fail(self, err: OSError, key: str = "") -> Exception:
        return unavailable(msg("storage.replica_unavailable", name=self.name), f"{key}: {err}")

    def _ready(self) -> None:
        if not self.root.is_dir():
            raise unavailable(msg("storage.replica_unavailable", name=self.name), str(self.root))

    def _write(self, key: str, fill: object) -> None:
        self._ready()
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.parent / f"{_TMP}{uuid.uuid4().hex}"
            with open(tmp, "wb") as f:
                if isinstance(fill, bytes):
                    f.write(fill)
                else:
                    assert isinstance(fill, Path)
                    with open(fill, "rb") as src:
                        shutil.copyfileobj(src, f, 1 << 20)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            fsync_dir(path.parent)
        except OSError as err:
            raise self._fail(err, key) from err

    def put(self, key: str, data: bytes) -> None:
        self._write(key, data)

    def put_file(self, key: str, path: Path) -> None:
        """Store the content of ``path``, a durable file that is never written again
        (a closed spool segment). On the same filesystem it is hard-linked, not copied:
        the blocks are shared, the name is ours."""
        self._ready()
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.parent / f"{_TMP}{uuid.uuid4().hex}"
            os.link(path, tmp)
        except OSError as err:
            if err.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise self._fail(err, key) from err
            self._write(key, path)  # another filesystem: copy
            return
        try:
            os.replace(tmp, target)
            fsync_dir(target.parent)
        except OSError as err:
            raise self._fail(err, key) from err

    def get(self, key: str) -> bytes:
        self._ready()
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as err:
            raise not_found(msg("storage.object_missing", name=self.name, key=key)) from err
        except OSError as err:
            raise self._fail(err, key) from err

    def stat(self, key: str) -> BlobInfo | None:
        self._ready()
        try:
            return BlobInfo(key, self._path(key).stat().st_size)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise self._fail(err, key) from err

    def delete(self, key: str) -> None:
        self._ready()
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as err:
            raise self._fail(err, key) from err
        # prune empty day/month folders, never the root
        parent = path.parent
        while parent != self.root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        self._ready()
        for dirpath, _dirs, files in os.walk(self.root):
            for f in files:
                if f.startswith(_TMP):
                    continue
                full = Path(dirpath) / f
                key = full.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield BlobInfo(key, full.stat().st_size)

    def healthy(self) -> bool:
        return self.root.is_dir() and os.access(self.root, os.W_OK)
