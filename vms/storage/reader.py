"""Reading recorded segments back (playback, exports): from the first replica that
holds a copy whose SHA-256 matches the index, decrypted when encrypted at rest."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence

from vms.domain.model import SegmentRecord
from vms.domain.ports import BlobStore
from vms.errors import ErrorKind, VmsError, invalid, not_found
from vms.messages import msg

logger = logging.getLogger(__name__)

Decrypt = Callable[[bytes, str], bytes]


class SegmentReader:
    def __init__(self, stores: Sequence[BlobStore], decrypt: Decrypt | None = None) -> None:
        self.stores = {s.name: s for s in stores}
        self.decrypt = decrypt

    def stored(self, segment: SegmentRecord) -> bytes:
        """The stored bytes (ciphertext when encrypted), checked against the index: a
        replica whose copy does not match is logged and skipped."""
        names = [n for n in segment.replicas if n in self.stores]
        names += [n for n in self.stores if n not in names]  # a repair may lag the index
        failure: VmsError | None = None
        for name in names:
            try:
                data = self.stores[name].get(segment.key)
            except VmsError as err:
                logger.warning("segment %s unreadable on %s: %s", segment.key, name, err)
                failure = err
                continue
            if hashlib.sha256(data).hexdigest() == segment.sha256:
                return data
            logger.error("segment %s on %s: SHA-256 differs from the index", segment.key, name)
            failure = VmsError(
                ErrorKind.INTERNAL, msg("storage.integrity", key=segment.key, name=name)
            )
        if failure is not None:
            raise failure
        raise not_found(msg("storage.object_missing", name="-", key=segment.key))

    def read(self, segment: SegmentRecord) -> bytes:
        """The segment's fMP4 bytes, decrypted."""
        data = self.stored(segment)
        if segment.encrypted:
            if self.decrypt is None:
                raise invalid(msg("crypto.decrypt_failed", key=segment.key), "no keyring")
            return self.decrypt(data, segment.key)
        return data
