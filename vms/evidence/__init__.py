"""Evidence exports ("extraits", EVD-05, EVD-07, EVD-11, LAW-05, LAW-08): lossless MP4
per camera, optional burnt-in overlay, signed manifest, checksums, offline player.

Public API::

    build_bundle(request, segments, gaps, read, out_dir, signer, ...) -> BundleResult
    verify_bundle(path, public_key_pem=None) -> VerifyReport
    Signer.load_or_create(path)

See docs/design/evidence.md. Media libraries (PyAV, ffmpeg) are imported only by the
modules that build videos (``remux``, ``overlay``, ``synthetic``); verification needs
neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vms.evidence.model import (
    BundleResult,
    BundleSettings,
    ExportCamera,
    ExportRequest,
    OutputFile,
    VerifyReport,
)
from vms.evidence.signing import Signer
from vms.evidence.verify import format_report, verify_bundle

if TYPE_CHECKING:
    from vms.evidence.bundle import build_bundle

__all__ = [
    "BundleResult",
    "BundleSettings",
    "ExportCamera",
    "ExportRequest",
    "OutputFile",
    "Signer",
    "VerifyReport",
    "build_bundle",
    "format_report",
    "verify_bundle",
]


def __getattr__(name: str) -> Any:
    # build_bundle pulls in PyAV: load it on first use, so verifying stays light
    if name == "build_bundle":
        from vms.evidence.bundle import build_bundle

        return build_bundle
    raise AttributeError(name)
