"""S3 replica through the ``minio`` client (MinIO, SeaweedFS, Ceph RGW, ...).
Library errors are translated here, once."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error

from vms.domain.ports import BlobInfo
from vms.errors import not_found, unavailable
from vms.messages import msg
from vms.storage.keys import validate_key

logger = logging.getLogger(__name__)


class S3BlobStore:
    def __init__(
        self,
        name: str,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        secure: bool = True,
        region: str = "",
        timeout_s: float = 5.0,
        object_lock: bool = False,
    ) -> None:
        self.name = name
        self.object_lock = object_lock
        self.bucket = bucket
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(2.0, timeout_s), read=timeout_s),
            retries=urllib3.Retry(total=1, backoff_factor=0.1, connect=0, read=1),
            maxsize=8,
        )
        self.client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure,
            region=region or None, http_client=http,
        )  # fmt: skip
        self._bucket_ready = False

    def _fail(self, err: Exception, key: str = "") -> Exception:
        return unavailable(msg("storage.replica_unavailable", name=self.name), f"{key}: {err}")

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        try:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket, object_lock=self.object_lock)
        except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as err:
            raise self._fail(err) from err
        self._bucket_ready = True

    def put(self, key: str, data: bytes) -> None:
        self._ensure_bucket()
        try:
            self.client.put_object(self.bucket, validate_key(key), io.BytesIO(data), len(data))
        except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as err:
            raise self._fail(err, key) from err

    def put_file(self, key: str, path: Path) -> None:
        self._ensure_bucket()
        try:
            self.client.fput_object(self.bucket, validate_key(key), str(path))
        except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as err:
            raise self._fail(err, key) from err

    def get(self, key: str) -> bytes:
        self._ensure_bucket()
        try:
            resp = self.client.get_object(self.bucket, validate_key(key))
            try:
                return bytes(resp.read())
            finally:
                resp.close()
                resp.release_conn()
        except S3Error as err:
            if err.code in ("NoSuchKey", "NoSuchObject"):
                raise not_found(msg("storage.object_missing", name=self.name, key=key)) from err
            raise self._fail(err, key) from err
        except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as err:
            raise self._fail(err, key) from err

    def stat(self, key: str) -> BlobInfo | None:
        self._ensure_bucket()
        try:
            st = self.client.stat_object(self.bucket, validate_key(key))
        except S3Error as err:
            if err.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return None
            raise self._fail(err, key) from err
        except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as err:
            raise self._fail(err, key) from err
        return BlobInfo(key, int(st.size or 0))

    def delete(self, key: str) -> None:
        self._ensure_bucket()
        if self.object_lock:
            return self._delete_versions(key)
        try:
            self.client.remove_object(self.bucket, validate_key(key))
        except S3Error as err:
            if err.code in ("NoSuchKey", "NoSuchObject"):
                return
            raise self._fail(err, key) from err
        except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as err:
            raise self._fail(err, key) from err

    def _delete_versions(self, key: str) -> None:
        """With Object Lock the bucket is versioned: deleting the key would only add a
        delete marker, so every version is removed. Only the purger deletes, once the
        index says no legal hold covers the segment any more: an object legal hold left
        from a released hold is lifted first."""
        try:
            if self.legal_hold(key):
                self.set_legal_hold(key, False)
            versions = self.client.list_objects(
                self.bucket, prefix=validate_key(key), include_version=True
            )
            for v in versions:
                if v.object_name == key:
                    self.client.remove_object(self.bucket, key, version_id=v.version_id)
        except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as err:
            raise self._fail(err, key) from err

    def set_legal_hold(self, key: str, on: bool) -> bool:
        """Put or lift the S3 object legal hold of ``key`` (LAW-01). False when this
        replica does not use Object Lock (nothing to do)."""
        if not self.object_lock:
            return False
        self._ensure_bucket()
        try:
            if on:
                self.client.enable_object_legal_hold(self.bucket, validate_key(key))
            else:
                self.client.disable_object_legal_hold(self.bucket, validate_key(key))
        except S3Error as err:
            if err.code in ("NoSuchKey", "NoSuchObject"):
                return False
            raise self._fail(err, key) from err
        except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as err:
            raise self._fail(err, key) from err
        return True

    def legal_hold(self, key: str) -> bool:
        """Whether ``key`` is under an S3 object legal hold."""
        if not self.object_lock:
            return False
        self._ensure_bucket()
        try:
            return bool(self.client.is_object_legal_hold_enabled(self.bucket, validate_key(key)))
        except S3Error as err:
            if err.code in ("NoSuchObjectLegalHold", "NoSuchKey", "NoSuchObject"):
                return False
            raise self._fail(err, key) from err
        except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as err:
            raise self._fail(err, key) from err

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        self._ensure_bucket()
        try:
            for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
                if obj.object_name is not None:
                    yield BlobInfo(obj.object_name, int(obj.size or 0))
        except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as err:
            raise self._fail(err) from err

    def healthy(self) -> bool:
        try:
            self.client.bucket_exists(self.bucket)
            return True
        except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError):
            return False
